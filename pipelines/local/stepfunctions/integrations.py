"""The Task states' integrations: callables by resource, (parameters, TaskCall) -> result.

A resource is named as in a definition, with or without arn:aws:states::: in front:
"sagemaker:createTrainingJob.sync", "aws-sdk:sagemaker:describePipelineExecution",
"states:startExecution.sync:2". An integration raises StatesError with the error name AWS
gives (errors.py); anything else it raises is a defect and fails the execution as
States.TaskFailed with the exception's text.
"""

PREFIX = "arn:aws:states:::"


def resource_key(resource):
    return resource[len(PREFIX) :] if resource.startswith(PREFIX) else resource


class Integrations:
    def __init__(self, functions=None):
        self._functions = {}
        for resource, function in (functions or {}).items():
            self.register(resource, function)

    def register(self, resource, function):
        self._functions[resource_key(resource)] = function

    def lookup(self, resource):
        return self._functions.get(resource_key(resource)) if isinstance(resource, str) else None

    def resources(self):
        return sorted(self._functions)
