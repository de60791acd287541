"""The errors of the Amazon States Language, by the names AWS gives them.

StatesError is an error *inside* an execution: a state raises it, a Retry or Catch may handle
it, and otherwise the execution fails with it. States.Runtime and States.DataLimitExceeded are
terminal: States.ALL does not match them, as on AWS.
"""

from typing import Collection

from pipelines.errors import ChurnError

ALL = "States.ALL"
TASK_FAILED = "States.TaskFailed"
TIMEOUT = "States.Timeout"
RUNTIME = "States.Runtime"
DATA_LIMIT = "States.DataLimitExceeded"
BRANCH_FAILED = "States.BranchFailed"
NO_CHOICE = "States.NoChoiceMatched"
INTRINSIC = "States.IntrinsicFailure"
QUERY_EVALUATION = "States.QueryEvaluationError"  # a JSONata expression that fails
ITEM_READER_FAILED = "States.ItemReaderFailed"  # a Distributed Map's ItemReader
RESULT_WRITER_FAILED = "States.ResultWriterFailed"  # its ResultWriter
EXCEEDED_THRESHOLD = "States.ExceedToleratedFailureThreshold"  # its Map Run's failures
TERMINAL = (RUNTIME, DATA_LIMIT)


class StatesError(ChurnError):
    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__("%s: %s" % (error, cause) if cause else error)
        self.error = error
        self.cause = cause

    def output(self) -> dict[str, str]:
        """What a Catch puts at its ResultPath."""
        return {"Error": self.error, "Cause": self.cause}


_LOCATED = "An error occurred while executing the state"


def located(error: StatesError, state: str, entered_at: int) -> StatesError:
    """A States.Runtime, States.DataLimitExceeded or States.QueryEvaluationError raised in a
    state, its cause worded as AWS words it: "An error occurred while executing the state 'X'
    (entered at the event id #N). ..." (once: a Map's or Parallel's own state does not word
    again what one of its branches' states did)."""
    if error.error not in (RUNTIME, DATA_LIMIT, QUERY_EVALUATION) or error.cause.startswith(
        _LOCATED
    ):
        return error
    return StatesError(
        error.error,
        "%s '%s' (entered at the event id #%d). %s" % (_LOCATED, state, entered_at, error.cause),
    )


def matches(error: str, names: Collection[str]) -> bool:
    """Whether a Retry's or Catch's ErrorEquals takes `error`. States.Runtime "will always cause
    the execution to fail"; States.DataLimitExceeded is taken only when named."""
    if error == RUNTIME:
        return False
    if error in names:
        return True
    if error in TERMINAL:
        return False
    if ALL in names:
        return True
    # "States.TaskFailed acts as a wildcard that matches any known error name except for
    # States.Timeout" (AWS's error-handling guide).
    return TASK_FAILED in names and error != TIMEOUT
