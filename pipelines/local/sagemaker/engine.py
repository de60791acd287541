"""Execute a pipeline definition: steps in dependency order, branches, statuses, progress.

A run is a first-class execution with an id, a folder (<home>/executions/<id>/ with
execution.json, one folder per step with its logs) and SageMaker's status names (Executing,
Succeeded, Failed, Stopped). What each step type does is steps.py's table; caching and retries
are there too. Jobs run one at a time: on two cores a second XGBoost or pandas job only slows
the first, and each job gets the whole thread budget (a tuning job's trials, the one exception,
run side by side within the cores, sharing it: tuning/trials.py). The engine knows nothing of
churn: it runs any definition whose step types the table has.
"""

import json
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Set, Union

from pipelines.errors import PipelineError, UserError
from pipelines.local.arns import sagemaker_arn
from pipelines.local.processes import process_start
from pipelines.local.sagemaker import expressions, lambda_step, quality_check
from pipelines.local.sagemaker.backend import SageMakerBackend
from pipelines.local.sagemaker.failure import StepFailure
from pipelines.local.sagemaker.limits import check_request
from pipelines.local.sagemaker.runners import JobRunner
from pipelines.local.sagemaker.steps import STEP_TYPES, Entry, Step
from pipelines.local.sagemaker.tuning.validation import unsupported as tuning_unsupported

Definition = Dict[str, Any]  # a pipeline definition's JSON
Record = Dict[str, Any]  # the execution's record (records.py)
Echo = Callable[[str], None]

STEP_REF = re.compile(r'"Get": "Steps\.([A-Za-z0-9_-]+)[.\']')


def parameter_values(definition: Definition, overrides: Mapping[str, Any]) -> Dict[str, Any]:
    """Defaults from the definition, overridden by name; values cast to the declared type."""
    declared = {p["Name"]: p for p in definition.get("Parameters", [])}
    unknown = set(overrides) - set(declared)
    if unknown:
        raise PipelineError(
            "unknown pipeline parameters %s (the pipeline has: %s)"
            % (", ".join(sorted(unknown)), ", ".join(declared))
        )
    values: Dict[str, Any] = {}
    for name, p in declared.items():
        value = overrides.get(name, p.get("DefaultValue"))
        try:
            if p["Type"] == "Integer":
                value = int(value)
            elif p["Type"] == "Float":
                value = float(value)
            elif p["Type"] == "Boolean" and isinstance(value, str):
                if value.lower() not in ("true", "false"):
                    raise ValueError(value)
                value = value.lower() == "true"
        except (TypeError, ValueError):
            raise PipelineError("parameter %s is %s; %r is not one" % (name, p["Type"], value))
        if p.get("EnumValues") and value not in p["EnumValues"]:  # as StartPipelineExecution
            raise PipelineError(
                "parameter %s must be one of %s; %r is not one"
                % (name, ", ".join(p["EnumValues"]), value)
            )
        values[name] = value
    return values


def all_steps(definition: Definition) -> List[Step]:
    """Every step of the definition, those in conditions' branches too (at any depth: a branch
    may hold a condition of its own)."""
    return _with_branches(definition["Steps"])


def _with_branches(steps: List[Step]) -> List[Step]:
    found = []
    for step in steps:
        found.append(step)
        if step["Type"] == "Condition":
            arguments = step["Arguments"]
            found += _with_branches(arguments.get("IfSteps", []) + arguments.get("ElseSteps", []))
    return found


def dependencies(step: Step) -> Set[str]:
    arguments = step.get("Arguments", {})
    if step["Type"] == "Condition":
        # A branch's steps wait on what they reference once the branch is chosen; the
        # condition itself waits only on what its conditions read (a branch step that reads
        # another branch step would otherwise make the condition wait on itself).
        arguments = {k: v for k, v in arguments.items() if k not in ("IfSteps", "ElseSteps")}
    refs = set(STEP_REF.findall(json.dumps(arguments)))
    return (refs | set(step.get("DependsOn", []))) - {step["Name"]}


# Why a step type has no local stand-in: what it needs that only AWS has.
NEEDS_AWS = {
    "EMR": "it runs a step on an Amazon EMR cluster",
    "AutoML": "it runs an Autopilot (AutoML) job, which chooses and trains models in AWS",
    "Callback": "it waits for a message from an Amazon SQS queue and a reply through "
    "SendPipelineExecutionStepSuccess",
    "ClarifyCheck": "it runs SageMaker Clarify's analysis image (bias and explainability), "
    "which has no local stand-in",
    "EMRServerless": "it runs a job on EMR Serverless",
    "NotebookJob": "it runs a notebook job in a SageMaker training container",
}


def refusal(step: Step, backend: SageMakerBackend) -> Optional[str]:
    """One line naming a step the local engine cannot run and why; None when it can."""
    why: Optional[str] = None
    if step["Type"] not in STEP_TYPES:
        why = NEEDS_AWS.get(
            step["Type"], "the local engine runs %s only" % ", ".join(sorted(STEP_TYPES))
        )
    elif step["Type"] == "QualityCheck":
        why = quality_check.unsupported(step)
    elif step["Type"] == "Lambda":  # its function must be in the home
        why = lambda_step.refusal(step, backend)
    elif step["Type"] == "Tuning":
        why = tuning_unsupported(step.get("Arguments", {}))
    return "step %s (type %s): %s" % (step["Name"], step["Type"], why) if why else None


class Execution(object):
    """Runs one execution of a definition on a backend and records it."""

    def __init__(
        self,
        backend: SageMakerBackend,
        definition: Definition,
        pipeline_name: str,
        parameters: Mapping[str, Any],
        echo: Optional[Echo] = None,
        execution_id: Optional[str] = None,
        details: Optional[Mapping[str, Any]] = None,
    ) -> None:
        """`execution_id`: the id StartPipelineExecution answered before the execution's
        process started (a new one by default); `details`: what its request said beside the
        definition (display name, description, parallelism, ...), kept in the record."""
        self.backend = backend
        self.definition = definition
        self.echo: Echo = echo or (lambda line: None)
        self.id = execution_id or uuid.uuid4().hex[:12]
        self.pipeline = pipeline_name
        self.folder = backend.executions.folder(self.id)
        self.arn = sagemaker_arn("pipeline", self.pipeline, "execution", self.id)
        refusals = [r for r in (refusal(s, backend) for s in all_steps(definition)) if r]
        if refusals:
            raise PipelineError(
                "the local engine cannot run %s of this pipeline's steps, so nothing ran:\n  %s"
                % ("one" if len(refusals) == 1 else len(refusals), "\n  ".join(refusals))
            )
        self.parameters = parameter_values(definition, parameters)
        for step in all_steps(definition):  # what the Create*Job APIs would refuse
            check_request(
                step["Name"], step["Type"], step.get("Arguments", {}), self._parameter_or_literal
            )
        now = time.time()
        self.ctx = expressions.Context(
            self.parameters,
            {
                "PipelineExecutionId": self.id,
                "PipelineExecutionArn": self.arn,
                "PipelineName": self.pipeline,
                "PipelineArn": sagemaker_arn("pipeline", self.pipeline),
                "StartDateTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
                "CurrentDateTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
            },
            backend.store,
        )
        self.record: Record = {
            "PipelineExecutionId": self.id,
            "PipelineExecutionArn": self.arn,
            "PipelineName": self.pipeline,
            "PipelineExecutionStatus": "Executing",
            "StartTime": now,
            "EndTime": None,
            "FailureReason": None,
            "Parameters": self.parameters,
            "Steps": [],
            # Which process runs it: a record whose process is gone was killed (records.py).
            "ProcessId": os.getpid(),
            "ProcessStart": process_start(os.getpid()),
        }
        self.record.update(details or {})
        self.steps: Dict[str, Entry] = {}

    def _parameter_or_literal(self, raw: Any) -> Any:
        """A request field's value when a literal or a parameter sets it, before anything ran;
        LookupError for what only running steps will tell."""
        if isinstance(raw, dict):
            name = raw.get("Get", "")
            if set(raw) == {"Get"} and name.startswith("Parameters."):
                return self.parameters[name[len("Parameters.") :]]
            raise LookupError(name)
        return raw

    # ------------------------------------------------------------------ what it produced

    def succeeded(self, step_type: str) -> List[Dict[str, Any]]:
        """The Describe*-shaped properties of each step of `step_type` that succeeded (ran or
        came from the cache), in the order they ran."""
        return [
            self.ctx.properties[entry["StepName"]]
            for entry in self.record["Steps"]
            if entry["StepType"] == step_type and entry["StepStatus"] == "Succeeded"
        ]

    def property_files(self, file_name: str) -> List[str]:
        """The S3 URIs of the property files named `file_name`, of every step that has one."""
        return [
            files[file_name] for files in self.ctx.property_files.values() if file_name in files
        ]

    # ------------------------------------------------------------------ bookkeeping

    def save(self) -> None:
        self.backend.executions.save(self.record)

    def _start(self, step: Step) -> Entry:
        entry: Entry = {
            "StepName": step["Name"],
            "StepType": step["Type"],
            "StepStatus": "Executing",
            "StartTime": time.time(),
            "EndTime": None,
            "CacheHit": None,
            "FailureReason": None,
            "Metadata": {},
            "Log": None,
        }
        self.record["Steps"].append(entry)
        self.steps[step["Name"]] = entry
        self.save()
        return entry

    def _finish(self, entry: Entry, status: str, reason: Optional[str] = None) -> None:
        entry["StepStatus"] = status
        entry["EndTime"] = time.time()
        entry["FailureReason"] = reason
        self.save()
        seconds = entry["EndTime"] - entry["StartTime"]
        note = " (cache hit from %s)" % entry["CacheHit"] if entry["CacheHit"] else ""
        self.echo("  %-28s %-9s %6.1f s%s" % (entry["StepName"], status, seconds, note))

    # ------------------------------------------------------------------ running

    def save_step(self, entry: Entry, **details: Any) -> None:
        """Keep what a step was asked and produced beside the record (records.py)."""
        self.backend.executions.save_step(self.id, entry["StepName"], details)

    def run(self) -> Record:
        self.save()
        self.backend.executions.save_definition(self.id, self.definition)
        self.echo("execution %s of %s" % (self.id, self.pipeline))
        pending = list(self.definition["Steps"])
        try:
            while pending:
                ready = [
                    s
                    for s in pending
                    if all(
                        self.steps.get(d, {}).get("StepStatus") == "Succeeded"
                        for d in dependencies(s)
                    )
                ]
                if not ready:
                    names = ", ".join(s["Name"] for s in pending)
                    raise PipelineError("steps %s wait on steps that never ran" % names)
                step = ready[0]
                pending.remove(step)
                pending += self._run_step(step)
        except (StepFailure, PipelineError) as failure:
            self.record["PipelineExecutionStatus"] = "Failed"
            self.record["FailureReason"] = str(failure)
        except KeyboardInterrupt:
            for entry in self.record["Steps"]:
                if entry["StepStatus"] == "Executing":
                    entry["StepStatus"] = "Stopped"
            self.record["PipelineExecutionStatus"] = "Stopped"
            self.record["FailureReason"] = "stopped by the user"
        else:
            self.record["PipelineExecutionStatus"] = "Succeeded"
        finally:
            self.record["EndTime"] = time.time()
            self.save()
        return self.record

    def _run_step(self, step: Step) -> List[Step]:
        """Run one step; returns the steps it unlocks (a condition's chosen branch)."""
        entry = self._start(step)
        self.echo("  %-28s Executing" % step["Name"])
        try:
            follow = STEP_TYPES[step["Type"]](self, step, entry) or []
        except StepFailure as e:
            entry["Log"] = str(e.log) if e.log else entry["Log"]
            self._finish(entry, "Failed", e.reason)
            raise StepFailure("step %s failed: %s" % (step["Name"], e.reason), e.log, e.tail)
        except (expressions.ExpressionError, UserError, ValueError) as e:
            self._finish(entry, "Failed", str(e))
            raise StepFailure("step %s failed: %s" % (step["Name"], e))
        self._finish(entry, "Succeeded")
        return follow


def run_definition(
    home: Union[str, Path],
    definition: Definition,
    pipeline_name: str,
    parameters: Optional[Mapping[str, Any]] = None,
    echo: Optional[Echo] = None,
    runner: Optional[JobRunner] = None,
) -> Record:
    """Run a definition on the local SageMaker of `home`; returns the execution record."""
    backend = SageMakerBackend(home, runner=runner)
    try:
        return Execution(backend, definition, pipeline_name, dict(parameters or {}), echo).run()
    finally:
        backend.close()
