"""The errors this package raises on purpose, in one hierarchy.

    ChurnError                 base of them all
     +-- UserError             the user can fix it (a flag, a file, a name, credentials):
     |    |                    commands print it as one line, with no traceback, and exit 1
     |    +-- PipelineError    a definition the local engine cannot run; nothing was started
     |    +-- StoreError       a bad S3 URI, or no object there, in the local store
     |    +-- RegistryError    (aws/registry.py) a model version or group the registry lacks
     |    +-- ModelSourceError a model that cannot be served from where it was named
     |    |    +-- HandlerError       (serving/handlers.py) no inference program, or no handler
     |    +-- MonitorError     captured data or a baseline that cannot be checked
     |    +-- DeployError      an endpoint that cannot be deployed or removed as asked
     |    +-- StepFailed       (churn/script_run.py) a container script exited non-zero
     +-- StepFailure           (local/sagemaker/failure.py) a step or job that failed: recorded
     |                         in the execution, whose status the command reports
     +-- ExpressionError       (local/sagemaker/expressions.py) an expression that does not resolve
     +-- TransformError        (serving/batch_transform.py) an input object that fails whole

The container scripts raise their own errors (SchemaError, DataError, ...): they never import
this package. Where a command calls them in-process, the caller turns those into UserError.
"""


class ChurnError(Exception):
    """Base of every error raised on purpose under pipelines/."""


class UserError(ChurnError):
    """Something the user can fix; printed as one line saying what is wrong and what to do."""


class PipelineError(UserError):
    """The definition cannot run here (unsupported step, bad parameter); nothing was started."""


class StoreError(UserError):
    """A URI the local store cannot hold, or no object at it."""


class RegistryError(UserError):
    """No such model version or group, or a status the registry does not know: what
    pipelines/aws/registry.py tells a user who named one (the twin itself refuses as SageMaker
    does, with a ClientError)."""


class ModelSourceError(UserError):
    """The model named cannot be served (not approved, not a model folder, no code)."""


class MonitorError(UserError):
    """Captured data or a baseline that cannot be read or checked."""


class DeployError(UserError):
    """An endpoint that cannot be deployed or removed as asked."""


def first_line(error: BaseException) -> str:
    """A library's error as one line: XGBoost, for one, appends a C++ stack trace."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
