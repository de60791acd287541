"""The Task states' integrations: callables by resource, (parameters, TaskCall) -> result.

A resource is named as in a definition, with or without arn:aws:states::: in front:
"sagemaker:createTrainingJob.sync", "aws-sdk:sagemaker:describePipelineExecution",
"states:startExecution.sync:2". An integration raises StatesError with the error name AWS
gives (errors.py); anything else it raises is a defect and fails the execution as
States.TaskFailed with the exception's text.

A Distributed Map's ItemReader and ResultWriter name resources too (arn:aws:states:::s3:getObject,
s3:listObjectsV2, s3:putObject), which are not Task resources on AWS: they are registered apart
(`register_map_resource`), so a Task naming one is still refused. Each is called as the S3 API
is, (its request, None) -> boto3's answer (GetObject's Body a stream).
"""

from typing import Any, Callable, Mapping, Optional

PREFIX = "arn:aws:states:::"

# (the state's parameters, the interpreter's TaskCall) -> the task's result. The TaskCall is Any
# here: the interpreter imports this module, and the modules of a package import one way.
Integration = Callable[[Any, Any], Any]


def resource_key(resource: str) -> str:
    return resource[len(PREFIX) :] if resource.startswith(PREFIX) else resource


class Integrations:
    def __init__(
        self,
        functions: Optional[Mapping[str, Integration]] = None,
        map_resources: Optional[Mapping[str, Integration]] = None,
    ) -> None:
        self._functions: dict[str, Integration] = {}
        self._map_resources: dict[str, Integration] = {}
        for resource, function in (functions or {}).items():
            self.register(resource, function)
        for resource, function in (map_resources or {}).items():
            self.register_map_resource(resource, function)

    def register(self, resource: str, function: Integration) -> None:
        self._functions[resource_key(resource)] = function

    def lookup(self, resource: object) -> Optional[Integration]:
        return self._functions.get(resource_key(resource)) if isinstance(resource, str) else None

    def resources(self) -> list[str]:
        return sorted(self._functions)

    def register_map_resource(self, resource: str, function: Integration) -> None:
        """An ItemReader's or ResultWriter's resource (s3:getObject, ...)."""
        self._map_resources[resource_key(resource)] = function

    def map_resource(self, resource: object) -> Optional[Integration]:
        if not isinstance(resource, str):
            return None
        return self._map_resources.get(resource_key(resource))
