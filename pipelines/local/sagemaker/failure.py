"""How a step or a job ends without success, as the engine records it."""

from pipelines.errors import ChurnError


class StepFailure(ChurnError):
    """`reason` is what DescribePipelineExecution's FailureReason (or a job's Describe*Job
    FailureReason) would say; `log` the log file or job folder, `tail` its last lines."""

    def __init__(self, reason, log=None, tail=""):
        ChurnError.__init__(self, reason)
        self.reason, self.log, self.tail = reason, log, tail
