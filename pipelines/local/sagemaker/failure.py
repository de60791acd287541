"""How a step or a job ends without success, as the engine records it."""

from __future__ import annotations  # the job processes import this: no typing at run time

from pipelines.errors import ChurnError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Optional, Union


class StepFailure(ChurnError):
    """`reason` is what DescribePipelineExecution's FailureReason (or a job's Describe*Job
    FailureReason) would say; `log` the log file or job folder, `tail` its last lines."""

    def __init__(self, reason: str, log: Optional[Union[str, Path]] = None, tail: str = "") -> None:
        ChurnError.__init__(self, reason)
        self.reason, self.log, self.tail = reason, log, tail
