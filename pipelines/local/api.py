"""What every twin's client shares, so that code written against boto3's client for a service
runs unchanged against the twin (docs/adr/0011):

- requests: boto3's method names and keyword arguments, refused as boto3 refuses them before
  sending (ParamValidationError) and as the service refuses them after (its model's
  constraints: a ClientError ValidationException);
- answers: what boto3 hands its caller, checked against the operation's output shape when
  CHURN_CHECK_ANSWERS=1 (the test suite sets it for every twin in every process it starts);
- failures: botocore's ClientError with the service's documented error code and HTTP status;
- paginators: `get_paginator(name)`, driven by botocore's own pagination config.
"""

import os
from typing import Any, Callable, Dict, Iterator, Optional

from botocore.exceptions import ClientError

from pipelines.local.parameters import (
    answer_problems,
    check_parameters,
    constraint_violations,
    operation_of,
    pagination,
)

CHECK_ANSWERS = "CHURN_CHECK_ANSWERS"

Request = Dict[str, Any]
Answer = Dict[str, Any]


class AnswerShapeError(AssertionError):
    """A twin answered what boto3 would never hand its caller: a bug of the twin."""


def client_error(operation: str, code: str, message: str, status: int = 400) -> ClientError:
    """The exception boto3 raises when the service answers `code`."""
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


class TwinClient(object):
    """The base of a twin's boto3-shaped client. A subclass names its botocore `service` and
    implements its operations as boto3's snake_case methods taking keyword arguments; each
    begins with `self._request(Operation, request)` and ends with `self._answer(Operation,
    answer)`."""

    service = ""
    # The error code of a request the model's constraints refuse: most services answer
    # ValidationException; some model their own (sagemaker-featurestore-runtime's ValidationError).
    validation_code = "ValidationException"

    def _request(self, operation: str, request: Request) -> Request:
        check_parameters(self.service, operation, request)
        found = constraint_violations(self.service, operation, request)
        if found:
            raise client_error(
                operation,
                self.validation_code,
                "%d validation error%s detected: %s"
                % (len(found), "" if len(found) == 1 else "s", "; ".join(found)),
            )
        return request

    def _answer(self, operation: str, answer: Answer) -> Answer:
        if os.environ.get(CHECK_ANSWERS) == "1":
            problems = answer_problems(self.service, operation, answer)
            if problems:
                raise AnswerShapeError(
                    "the %s twin's %s answer is not %s's output shape: %s"
                    % (self.service, operation, operation, "; ".join(problems))
                )
        return answer

    @property
    def meta(self) -> Any:
        """botocore's ClientMeta as boto3's client has it (its event emitter, service model,
        region, operation names), for code that builds on a client rather than calling it: the
        SageMaker SDK's waiters (botocore.waiter.create_waiter_with_client) read
        `meta.service_model` and `meta.events`. Made on first use (botocore's loaders are slow
        to import)."""
        meta = self.__dict__.get("_meta")
        if meta is None:
            import botocore.session
            from botocore import xform_name
            from botocore.client import ClientMeta, Config
            from botocore.hooks import HierarchicalEmitter

            from pipelines.local.arns import REGION

            model = botocore.session.get_session().get_service_model(self.service)
            meta = self.__dict__["_meta"] = ClientMeta(
                HierarchicalEmitter(),
                Config(region_name=REGION),
                None,
                model,
                {xform_name(name): name for name in model.operation_names},
                "aws",
            )
        return meta

    def can_paginate(self, operation_name: str) -> bool:
        return pagination(self.service, operation_of(self.service, operation_name)) is not None

    def get_paginator(self, operation_name: str) -> "Paginator":
        config = pagination(self.service, operation_of(self.service, operation_name))
        if config is None:
            raise ValueError("%s has no paginator for %s" % (self.service, operation_name))
        return Paginator(getattr(self, operation_name), config)


class Paginator(object):
    """boto3's paginator over a twin's method: pages until the answer has no next token."""

    def __init__(self, method: Callable[..., Answer], config: Dict[str, Any]) -> None:
        self.method = method
        self.config = config

    def paginate(self, **request: Any) -> Iterator[Answer]:
        """Pages as boto3's paginator gives them; PaginationConfig's PageSize (the operation's
        limit member), StartingToken and MaxItems (items of the result key, the last page cut
        short) as boto3 reads them."""
        config = dict(request.pop("PaginationConfig", None) or {})
        limit_key, result_key = self.config.get("limit_key"), self.config.get("result_key")
        if config.get("PageSize") and limit_key:
            request[limit_key] = config["PageSize"]
        token: Optional[str] = config.get("StartingToken")
        left = config.get("MaxItems")
        while True:
            if token:
                request[self.config["input_token"]] = token
            page = self.method(**request)
            if left is not None and isinstance(result_key, str) and result_key in page:
                page = dict(page, **{result_key: page[result_key][:left]})
                left -= len(page[result_key])
            yield page
            token = page.get(self.config["output_token"])
            if not token or left == 0:
                return
