"""The local Step Functions service of one home, as boto3's `stepfunctions` client: state machines,
their versions and aliases, and their executions (docs/adr/0011: a twin is its service's API).

State machines live in <home>/stepfunctions/state-machines/<name>.json, versions and aliases in
versions/<machine>/ and aliases/<machine>/, executions (with their history, in
GetExecutionHistory's shape) in <home>/stepfunctions/executions/<machine>/<name>.json, each
rewritten atomically as events arrive, so another process can follow a run. The calls are
boto3's, answered in the API's shapes and failing with its error codes: the machines'
(create, update, describe, list, delete; machines.py), versions' and aliases' (versions.py),
ValidateStateMachineDefinition (validation.py), the executions' (start, describe, history,
list; executions.py) and StopExecution, RedriveExecution and StartSyncExecution (control.py).
StartExecution starts the execution on a thread of the calling process and answers at once, as
on AWS. A local execution lives as long as the process that started it (its thread is a daemon:
Ctrl-C stops the command at once; `wait()` waits for them): one whose process ended first reads
as FAILED, saying so. `states:startExecution` (.sync, .sync:2) is an integration of its own
(control.py), so one workflow can run another as AWS's nested executions do, and a
Distributed Map's Map Runs are map_runs.py's (DescribeMapRun, ListMapRuns). StepFunctions
composes them.
"""

import os
import threading
from pathlib import Path
from typing import Dict, List, Optional, Union

from pipelines.local.processes import process_start
from pipelines.local.stepfunctions.control import ExecutionControl
from pipelines.local.stepfunctions.executions import TwinExecution, execution_arn
from pipelines.local.stepfunctions.integrations import Integrations
from pipelines.local.stepfunctions.interpreter import Clock
from pipelines.local.stepfunctions.machines import checked_name, machine_arn
from pipelines.local.stepfunctions.map_runs import MapRunOperations
from pipelines.local.stepfunctions.validation import DefinitionValidation

# The names and ARNs of state machines and executions are the service's to its callers.
__all__ = ["StepFunctions", "checked_name", "execution_arn", "machine_arn"]


class StepFunctions(MapRunOperations, ExecutionControl, DefinitionValidation):
    """boto3's `stepfunctions` client over the home's state machines (StateMachines,
    machines.py), their versions and aliases (Versions, versions.py), their executions
    (Executions, executions.py; ExecutionControl, control.py) and ValidateStateMachineDefinition
    (DefinitionValidation, validation.py) and Distributed Maps' Map Runs (MapRunOperations,
    map_runs.py); `integrations` answer the Task states, and their map resources a
    Distributed Map's ItemReader and ResultWriter."""

    service = "stepfunctions"

    def __init__(
        self, home: Union[str, Path], integrations: Integrations, clock: Optional[Clock] = None
    ) -> None:
        self.root = Path(home) / "stepfunctions"
        self.integrations = integrations
        self.clock = clock or Clock()
        self.integrations.register("states:startExecution.sync:2", self._nested(parse=True))
        self.integrations.register("states:startExecution.sync", self._nested(parse=False))
        self.integrations.register("states:startExecution", self._nested(parse=None))
        self._threads: List[threading.Thread] = []
        self._running: Dict[str, TwinExecution] = {}
        self._process_start = process_start(os.getpid())
