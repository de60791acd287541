"""Execute a pipeline definition: steps in dependency order, caching, retries, branches.

A run is a first-class execution with an id, a folder (<home>/executions/<id>/ with
execution.json, one folder per step with its logs) and SageMaker's status names (Executing,
Succeeded, Failed, Stopped). Jobs run one at a time: on two cores a second XGBoost or pandas job
only slows the first, and each job gets the whole thread budget.
"""
import hashlib
import json
import os
import re
import time
import uuid
from pathlib import Path

from pipelines.local import expressions, jobs
from pipelines.local.registry import Registry
from pipelines.local.store import Store, StoreError

SUPPORTED = ("Processing", "Training", "Transform", "Condition", "Fail", "RegisterModel",
             "Model")
# What SageMaker puts in a step's cache key (SAGEMAKER_CONTRACTS.md section 7.4).
CACHE_KEY_ATTRIBUTES = {
    "Processing": ("AppSpecification", "Environment", "ProcessingInputs"),
    "Training": ("AlgorithmSpecification", "CheckpointConfig", "DebugHookConfig",
                 "DebugRuleConfigurations", "Environment", "HyperParameters", "InputDataConfig"),
    "Transform": ("DataProcessing", "Environment", "ModelName", "TransformInput"),
}
# Local faults that stand for SageMaker's retryable exception types.
INTERNAL_ERROR = "SageMaker.JOB_INTERNAL_ERROR"
MAX_ATTEMPTS_DEFAULT = 5
STEP_REF = re.compile(r'"Get": "Steps\.([A-Za-z0-9_-]+)[.\']')


class PipelineError(ValueError):
    """The definition cannot run here (unsupported step, bad parameter); nothing was started."""


def parse_duration(text):
    """ISO-8601 duration (P30D, PT1H, P1Y2M, P2W) -> seconds; months 30 days, years 365."""
    m = re.fullmatch(r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?"
                     r"(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?", text or "")
    if not m or not any(m.groups()):
        raise PipelineError("ExpireAfter %r is not an ISO-8601 duration such as P30D or PT1H"
                            % text)
    y, mo, w, d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    return (((y * 365 + mo * 30 + w * 7 + d) * 24 + h) * 60 + mi) * 60 + s


def cache_key(step_type, arguments):
    relevant = {k: arguments.get(k) for k in CACHE_KEY_ATTRIBUTES[step_type]}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()


def retry_delays(policies, error_type):
    """Seconds to wait before each retry the step's RetryPolicies allow for `error_type`."""
    for policy in policies or []:
        if error_type in policy.get("ExceptionType", []):
            interval = float(policy.get("IntervalSeconds", 1))
            backoff = float(policy.get("BackoffRate", 2.0))
            if "ExpireAfterMin" in policy:
                budget, waited, delays = policy["ExpireAfterMin"] * 60.0, 0.0, []
                while waited + interval <= budget and len(delays) < 1000:
                    delays.append(interval)
                    waited += interval
                    interval *= backoff
                return delays
            attempts = int(policy.get("MaxAttempts", MAX_ATTEMPTS_DEFAULT))
            return [interval * backoff ** i for i in range(max(0, attempts - 1))]
    return []


def parameter_values(definition, overrides):
    """Defaults from the definition, overridden by name; values cast to the declared type."""
    declared = {p["Name"]: p for p in definition.get("Parameters", [])}
    unknown = set(overrides) - set(declared)
    if unknown:
        raise PipelineError("unknown pipeline parameters %s (the pipeline has: %s)"
                            % (", ".join(sorted(unknown)), ", ".join(declared)))
    values = {}
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
            raise PipelineError("parameter %s must be one of %s; %r is not one"
                                % (name, ", ".join(p["EnumValues"]), value))
        values[name] = value
    return values


def all_steps(definition):
    steps = []
    for step in definition["Steps"]:
        steps.append(step)
        if step["Type"] == "Condition":
            steps += step["Arguments"].get("IfSteps", []) + step["Arguments"].get("ElseSteps", [])
    return steps


def dependencies(step):
    arguments = step.get("Arguments", {})
    if step["Type"] == "Condition":
        # A branch's steps wait on what they reference once the branch is chosen; the
        # condition itself waits only on what its conditions read (a branch step that reads
        # another branch step would otherwise make the condition wait on itself).
        arguments = {k: v for k, v in arguments.items() if k not in ("IfSteps", "ElseSteps")}
    refs = set(STEP_REF.findall(json.dumps(arguments)))
    return (refs | set(step.get("DependsOn", []))) - {step["Name"]}


class StepFailure(Exception):
    def __init__(self, reason, log=None, tail=""):
        Exception.__init__(self, reason)
        self.reason, self.log, self.tail = reason, log, tail


class Execution(object):
    """Runs one execution of a definition and records it."""

    def __init__(self, home, definition, pipeline_name, parameters, echo=None, runner=None):
        self.home = Path(home).resolve()  # jobs chdir into their folders
        self.definition = definition
        self.store = Store(home)
        self.registry = Registry(home)
        self.echo = echo or (lambda line: None)
        self.id = uuid.uuid4().hex[:12]
        self.pipeline = pipeline_name
        self.folder = self.home / "executions" / self.id
        self.arn = "arn:aws:sagemaker:local:000000000000:pipeline/%s/execution/%s" % (
            self.pipeline.lower(), self.id)
        steps = all_steps(definition)
        unsupported = [s for s in steps if s["Type"] not in SUPPORTED]
        if unsupported:
            s = unsupported[0]
            raise PipelineError("step %s has type %s, which the local runner cannot execute "
                                "(it runs %s)" % (s["Name"], s["Type"], ", ".join(SUPPORTED)))
        self.parameters = parameter_values(definition, parameters)
        now = time.time()
        self.ctx = expressions.Context(self.parameters, {
            "PipelineExecutionId": self.id, "PipelineExecutionArn": self.arn,
            "PipelineName": self.pipeline,
            "PipelineArn": "arn:aws:sagemaker:local:000000000000:pipeline/%s"
                           % self.pipeline.lower(),
            "StartDateTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
            "CurrentDateTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))}, self.store)
        self.record = {"PipelineExecutionId": self.id, "PipelineExecutionArn": self.arn,
                       "PipelineName": self.pipeline, "PipelineExecutionStatus": "Executing",
                       "StartTime": now, "EndTime": None, "FailureReason": None,
                       "Parameters": self.parameters, "Steps": []}
        self.steps = {}
        self.own_runner = runner is None
        self.runner = runner or make_runner(self.home)

    # ------------------------------------------------------------------ bookkeeping

    def save(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / "execution.json.tmp"
        tmp.write_text(json.dumps(self.record, indent=1, default=str))
        os.replace(tmp, self.folder / "execution.json")

    def _start(self, step):
        entry = {"StepName": step["Name"], "StepType": step["Type"], "StepStatus": "Executing",
                 "StartTime": time.time(), "EndTime": None, "CacheHit": None,
                 "FailureReason": None, "Metadata": {}, "Log": None}
        self.record["Steps"].append(entry)
        self.steps[step["Name"]] = entry
        self.save()
        return entry

    def _finish(self, entry, status, reason=None):
        entry["StepStatus"] = status
        entry["EndTime"] = time.time()
        entry["FailureReason"] = reason
        self.save()
        seconds = entry["EndTime"] - entry["StartTime"]
        note = " (cache hit from %s)" % entry["CacheHit"] if entry["CacheHit"] else ""
        self.echo("  %-28s %-9s %6.1f s%s" % (entry["StepName"], status, seconds, note))

    # ------------------------------------------------------------------ running

    def run(self):
        self.save()
        self.echo("execution %s of %s" % (self.id, self.pipeline))
        pending = list(self.definition["Steps"])
        try:
            while pending:
                ready = [s for s in pending if all(
                    self.steps.get(d, {}).get("StepStatus") == "Succeeded"
                    for d in dependencies(s))]
                if not ready:
                    names = ", ".join(s["Name"] for s in pending)
                    raise PipelineError("steps %s wait on steps that never ran" % names)
                step = ready[0]
                pending.remove(step)
                pending += self._run_step(step)
        except (StepFailure, PipelineError) as failure:
            self.record["PipelineExecutionStatus"] = "Failed"
            self.record["FailureReason"] = getattr(failure, "reason", str(failure))
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
            self.registry.close()
            if self.own_runner:
                self.runner.close()
        return self.record

    def _run_step(self, step):
        """Run one step; returns the steps it unlocks (a condition's chosen branch)."""
        entry = self._start(step)
        self.echo("  %-28s Executing" % step["Name"])
        try:
            handler = getattr(self, "_step_" + step["Type"].lower())
            follow = handler(step, entry) or []
        except (StepFailure, jobs.JobFailed) as e:
            entry["Log"] = str(e.log) if getattr(e, "log", None) else entry["Log"]
            self._finish(entry, "Failed", e.reason)
            raise StepFailure("step %s failed: %s" % (step["Name"], e.reason),
                              getattr(e, "log", None), getattr(e, "tail", ""))
        except (expressions.ExpressionError, StoreError, ValueError) as e:
            self._finish(entry, "Failed", str(e))
            raise StepFailure("step %s failed: %s" % (step["Name"], e))
        self._finish(entry, "Succeeded")
        return follow

    def _job(self, step, entry, kind, run):
        """A job step: resolve, look in the cache, run (with retries), remember."""
        arguments = expressions.resolve(step["Arguments"], self.ctx)
        cache = step.get("CacheConfig") or {}
        key = cache_key(kind, arguments) if cache.get("Enabled") else None
        hit = None
        if key:
            max_age = parse_duration(cache["ExpireAfter"]) if cache.get("ExpireAfter") \
                else float("inf")
            hit = self.registry.cache_lookup(self.pipeline, step["Name"], key, max_age)
        if hit:
            entry["CacheHit"] = hit["execution_id"]
            properties = hit["properties"]
        else:
            workdir = self.folder / step["Name"]
            job_name = ("pipelines-%s-%s" % (self.id, step["Name"]))[:63]
            entry["Log"] = str(workdir)
            properties = self._with_retries(step, lambda: run(arguments, job_name, workdir))
            if self.runner.last_usage:
                entry["Resources"] = self.runner.last_usage
            if getattr(self.runner, "waited", 0):
                # The first job waits for the warm parent's imports: time of no job's own.
                entry["JobParentWaitSeconds"] = round(self.runner.waited, 2)
                self.runner.waited = 0.0
            if key:
                self.registry.cache_store(self.pipeline, step["Name"], key, self.id, properties)
        self.ctx.properties[step["Name"]] = properties
        return properties

    def _with_retries(self, step, attempt):
        delays = None
        while True:
            try:
                return attempt()
            except OSError as e:  # the local stand-in for a SageMaker-side job fault
                if delays is None:
                    delays = retry_delays(step.get("RetryPolicies"), INTERNAL_ERROR)
                if not delays:
                    raise StepFailure("%s: %s" % (INTERNAL_ERROR, e))
                wait = delays.pop(0)
                self.echo("  %-28s retrying in %.0f s after %s" % (step["Name"], wait, e))
                time.sleep(wait)

    def _step_processing(self, step, entry):
        properties = self._job(step, entry, "Processing", lambda a, name, folder:
                               jobs.run_processing(a, name, folder, self.store, self.runner))
        entry["Metadata"] = {"ProcessingJob": {"Arn": properties["ProcessingJobArn"]}}
        outputs = {o["OutputName"]: o["S3Output"]["S3Uri"]
                   for o in properties.get("ProcessingOutputConfig", {}).get("Outputs", [])}
        files = {}
        for pf in step.get("PropertyFiles", []):
            files[pf["PropertyFileName"]] = outputs[pf["OutputName"]].rstrip("/") + "/" + \
                pf["FilePath"]
        self.ctx.property_files[step["Name"]] = files

    def _step_training(self, step, entry):
        properties = self._job(step, entry, "Training", lambda a, name, folder:
                               jobs.run_training(a, name, folder, self.store, self.runner))
        entry["Metadata"] = {"TrainingJob": {"Arn": properties["TrainingJobArn"]}}

    def _step_transform(self, step, entry):
        def run(arguments, name, folder):
            model = self.registry.model(arguments["ModelName"])
            return jobs.run_transform(arguments, name, folder, self.store, self.runner, model)

        properties = self._job(step, entry, "Transform", run)
        entry["Metadata"] = {"TransformJob": {"Arn": properties["TransformJobArn"]}}

    def _step_condition(self, step, entry):
        outcome = expressions.evaluate_all(step["Arguments"]["Conditions"], self.ctx)
        self.ctx.properties[step["Name"]] = {"Outcome": outcome}
        entry["Metadata"] = {"Condition": {"Outcome": str(outcome).lower()}}
        return list(step["Arguments"]["IfSteps" if outcome else "ElseSteps"])

    def _step_fail(self, step, entry):
        message = expressions.resolve(step["Arguments"].get("ErrorMessage", ""), self.ctx)
        entry["Metadata"] = {"Fail": {"ErrorMessage": message}}
        raise StepFailure(message)

    def _step_registermodel(self, step, entry):
        request = expressions.resolve(step["Arguments"], self.ctx)
        package = self.registry.create_model_package(request, self.arn)
        self.ctx.properties[step["Name"]] = package
        entry["Metadata"] = {"RegisterModel": {"Arn": package["ModelPackageArn"]}}

    def _step_model(self, step, entry):
        request = expressions.resolve(step["Arguments"], self.ctx)
        name = ("pipelines-%s-%s" % (self.id, step["Name"]))[:63]
        model = self.registry.create_model(name, request)
        self.ctx.properties[step["Name"]] = model
        entry["Metadata"] = {"Model": {"Arn": model["ModelArn"]}}


def make_runner(home):
    """Jobs fork from a warm parent unless CHURN_COLD_JOBS=1 asks for a fresh interpreter per
    job (slower by the imports; useful to rule the warm parent out when debugging)."""
    if os.environ.get("CHURN_COLD_JOBS") == "1":
        return jobs.ColdRunner()
    Path(home).mkdir(parents=True, exist_ok=True)
    return jobs.WarmRunner(Path(home) / "zygote.log")


def run_definition(home, definition, pipeline_name, parameters=None, echo=None, runner=None):
    return Execution(home, definition, pipeline_name, dict(parameters or {}), echo,
                     runner).run()


def list_executions(home):
    folder = Path(home) / "executions"
    records = []
    for path in folder.glob("*/execution.json") if folder.is_dir() else []:
        try:
            records.append(json.loads(path.read_text()))
        except ValueError:
            continue
    return sorted(records, key=lambda r: r["StartTime"], reverse=True)


def load_execution(home, execution_id):
    path = Path(home) / "executions" / execution_id / "execution.json"
    if not path.is_file():
        known = ", ".join(r["PipelineExecutionId"] for r in list_executions(home)[:5]) or "none"
        raise PipelineError("no execution %s under %s (latest: %s); see `churn runs list`"
                            % (execution_id, home, known))
    return json.loads(path.read_text())
