"""The Task states' integrations: callables by resource, (parameters, TaskCall) -> result.

A resource is named as in a definition, with or without arn:aws:states::: in front:
"sagemaker:createTrainingJob.sync", "aws-sdk:sagemaker:describePipelineExecution",
"states:startExecution.sync:2". An integration raises StatesError with the error name AWS
gives (errors.py); anything else it raises is a defect and fails the execution as
States.TaskFailed with the exception's text.
"""

from typing import Any, Callable, Mapping, Optional

PREFIX = "arn:aws:states:::"

# (the state's parameters, the interpreter's TaskCall) -> the task's result. The TaskCall is Any
# here: the interpreter imports this module, and the modules of a package import one way.
Integration = Callable[[Any, Any], Any]


def resource_key(resource: str) -> str:
    return resource[len(PREFIX) :] if resource.startswith(PREFIX) else resource


class Integrations:
    def __init__(self, functions: Optional[Mapping[str, Integration]] = None) -> None:
        self._functions: dict[str, Integration] = {}
        for resource, function in (functions or {}).items():
            self.register(resource, function)

    def register(self, resource: str, function: Integration) -> None:
        self._functions[resource_key(resource)] = function

    def lookup(self, resource: object) -> Optional[Integration]:
        return self._functions.get(resource_key(resource)) if isinstance(resource, str) else None

    def resources(self) -> list[str]:
        return sorted(self._functions)
