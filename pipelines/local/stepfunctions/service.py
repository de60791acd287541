"""The local Step Functions service of one home, as boto3's `stepfunctions` client: state machines
and their executions (docs/adr/0011: a twin is its service's API).

State machines live in <home>/stepfunctions/state-machines/<name>.json, executions (with their
history, in GetExecutionHistory's shape) in <home>/stepfunctions/executions/<machine>/<name>.json,
each rewritten atomically as events arrive, so another process can follow a run. The calls are
boto3's (create_state_machine, update_state_machine, describe_state_machine,
list_state_machines, start_execution, describe_execution, get_execution_history,
list_executions, describe_map_run, list_map_runs, and their paginators), answered in the API's
shapes and failing with its error codes. StartExecution starts the execution on a thread of the
calling process and answers at once, as on AWS. A local execution lives as long as the process
that started it (its thread is a daemon: Ctrl-C stops the command at once; `wait()` waits for
them): one whose process ended first reads as FAILED, saying so. `states:startExecution`
(.sync, .sync:2) is an integration of its own, so one workflow can run another as AWS's nested
executions do. The state machines' operations are machines.py's, the executions' (and that
integration) executions.py's, a Distributed Map's Map Runs map_runs.py's; StepFunctions
composes them.
"""

import os
import threading
from pathlib import Path
from typing import List, Optional, Union

from pipelines.local.processes import process_start
from pipelines.local.stepfunctions.executions import Executions, execution_arn
from pipelines.local.stepfunctions.integrations import Integrations
from pipelines.local.stepfunctions.interpreter import Clock
from pipelines.local.stepfunctions.machines import StateMachines, checked_name, machine_arn
from pipelines.local.stepfunctions.map_runs import MapRunOperations

# The names and ARNs of state machines and executions are the service's to its callers.
__all__ = ["StepFunctions", "checked_name", "execution_arn", "machine_arn"]


class StepFunctions(MapRunOperations, Executions, StateMachines):
    """boto3's `stepfunctions` client over the home's state machines (StateMachines,
    machines.py), executions (Executions, executions.py) and Distributed Maps' Map Runs
    (MapRunOperations, map_runs.py); `integrations` answer the Task states, and their map
    resources a Distributed Map's ItemReader and ResultWriter."""

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
        self._process_start = process_start(os.getpid())
