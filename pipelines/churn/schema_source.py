"""Which schema a command means, resolved once: the file, the parsed schema, and whether it is a
shipped one (addressed by name, already in the code bundles) or a user's file (which travels
with the processing code and whose content shapes the definition)."""

import hashlib
import os
from typing import Any, Optional

from pipelines.errors import UserError
from processing.churn_recipe import RecipeError, removes_rows, schema_recipe
from processing.churn_schema import SchemaError, is_shipped, load_schema, resolve_schema_path


class SchemaSource(object):
    def __init__(self, name_or_path: str) -> None:
        try:
            self.path = os.path.abspath(resolve_schema_path(name_or_path))
            self.schema: Any = load_schema(self.path)  # processing/churn_schema.py's Schema
        except SchemaError as e:
            raise UserError(str(e))
        self.shipped = is_shipped(self.path)

    def removes_rows(self) -> Optional[str]:
        """Which step of the schema's recipe (or the recipe it implies) can remove rows, or
        None: such a recipe is fitted on one instance (ADR 0017). A recipe the processing
        code refuses counts as one: the one-instance job then fails with its reason."""
        try:
            return removes_rows(schema_recipe(self.schema))
        except RecipeError as e:
            return str(e)

    @property
    def user_file(self) -> Optional[str]:
        """The user's schema file to ship with the processing code, or None."""
        return None if self.shipped else self.path

    def identity(self) -> dict[str, str]:
        """What identifies this schema in a memoised definition: a shipped schema's name, or a
        user file's path and the hash of its content."""
        if self.shipped:
            return {"schema": self.schema.name}
        with open(self.path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        return {"schema": self.path, "schema_sha256": digest}
