"""Import a model's inference module as the SageMaker serving container does."""

import importlib.util
import os
import sys
from types import ModuleType
from typing import Optional, Union

from pipelines.errors import ModelSourceError

REQUIRED = ("model_fn", "input_fn", "predict_fn", "output_fn")
# What output_fn may return: a body (text or bytes), or (body, content type).
Body = Union[str, bytes, bytearray, memoryview]


class HandlerError(ModelSourceError):
    """The model's inference program is missing or lacks a handler."""


def load_handlers(code_dir: str, program: str) -> ModuleType:
    """The module SAGEMAKER_PROGRAM names, from SAGEMAKER_SUBMIT_DIRECTORY's code folder."""
    path = os.path.join(code_dir, program)
    if not os.path.isfile(path):
        raise HandlerError("no inference program %s in %s" % (program, code_dir))
    module_name = program[:-3] if program.endswith(".py") else program
    sys.path.insert(0, code_dir)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:  # not a name Python imports (no .py)
        raise HandlerError(
            "the inference program %s in %s is not a Python file: name a .py file"
            % (program, code_dir)
        )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    missing = [name for name in REQUIRED if not hasattr(module, name)]
    if missing:
        raise HandlerError("%s defines no %s" % (program, ", ".join(missing)))
    return module


def invoke(
    handlers: ModuleType,
    model: object,
    body: bytes,
    content_type: Optional[str],
    accept: Optional[str],
) -> tuple[bytes, Optional[str]]:
    """One request through input_fn -> predict_fn -> output_fn; returns (bytes, content type)."""
    return encode_result(
        handlers.output_fn(
            handlers.predict_fn(handlers.input_fn(body, content_type), model), accept
        ),
        accept,
    )


def encode_result(
    result: Union[Body, tuple[Body, str]], accept: Optional[str]
) -> tuple[bytes, Optional[str]]:
    """output_fn's result (body, or (body, content type)) -> (bytes, content type)."""
    media = accept
    if isinstance(result, tuple):
        result, media = result
    return (result.encode("utf-8") if isinstance(result, str) else bytes(result)), media
