"""Workflow variables (`Assign`, `$name`), in both query languages, as the developer guide's
"Passing data between states with variables" describes them
(https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html).

A state machine's top-level states share one scope. Each Parallel branch and each inline Map
iteration runs in a scope of its own that reads the scopes around it, so iterations see the
outer variables but not each other's, and nothing they assign is visible outside (a branch
returns data through its output). A state's Assign is evaluated with the variables as they
were when the state was entered and takes effect after the state's output is computed, so
neither its own Output nor its other assignments see the new values. One Assign may hold at
most 256 KiB, and an execution's variables together at most 10 MiB.

The variables travel with the context object: Context is the `$$` document (what a path or
`$states.context` reads) carrying, outside the document, the Scope its state runs in.
"""

import json
import re
import threading
from typing import Any, Optional

from pipelines.local.stepfunctions import errors
from pipelines.local.stepfunctions.errors import StatesError

ASSIGN_LIMIT = 256 * 1024  # bytes of one state's Assign (and so of any one variable)
TOTAL_LIMIT = 10 * 1024 * 1024  # bytes of all the variables an execution holds at once
RESERVED = "states"  # $states is JSONata's view of the state, never a variable
NAME = re.compile(r"[^\W\d]\w*")  # a letter or _, then letters, digits and _ (Unicode too)
ASSIGNING = ("Pass", "Task", "Map", "Parallel", "Choice", "Wait")  # the states with Assign


class Scope:
    """The variables of one scope (the top level, a Parallel branch, a Map iteration), over
    the scope it runs in."""

    def __init__(self, parent: Optional["Scope"] = None) -> None:
        self.parent = parent
        self.values: dict[str, Any] = {}
        self._sizes: dict[str, int] = {}
        # the execution's total size and its lock, shared by every scope of it
        self._total: list[int] = [0] if parent is None else parent._total
        self._lock: threading.Lock = threading.Lock() if parent is None else parent._lock

    def lookup(self, name: str) -> Any:
        """The value of `name` here or in a scope around; LookupError when none has it."""
        scope: Optional[Scope] = self
        while scope is not None:
            if name in scope.values:
                return scope.values[name]
            scope = scope.parent
        raise LookupError(name)

    def visible(self) -> dict[str, Any]:
        """Every variable this scope sees, an inner scope's over an outer one's."""
        outer = self.parent.visible() if self.parent is not None else {}
        return dict(outer, **self.values)

    def assign(self, values: dict[str, Any], state: str) -> None:
        """A state's Assign, once its output is computed: refused whole when it holds more
        than 256 KiB or would take the execution's variables over 10 MiB."""
        if not values:
            return
        sizes = {name: len(json.dumps(value).encode()) for name, value in values.items()}
        if sum(sizes.values()) > ASSIGN_LIMIT:
            raise StatesError(
                errors.DATA_LIMIT,
                "The variables assigned by state '%s' are %d bytes, more than the %d bytes "
                "one Assign may hold" % (state, sum(sizes.values()), ASSIGN_LIMIT),
            )
        with self._lock:
            total = self._total[0] + sum(sizes[n] - self._sizes.get(n, 0) for n in sizes)
            if total > TOTAL_LIMIT:
                raise StatesError(
                    errors.DATA_LIMIT,
                    "The variables of the execution would be %d bytes after state '%s', more "
                    "than the %d bytes an execution may hold" % (total, state, TOTAL_LIMIT),
                )
            self._total[0] = total
            self.values.update(values)
            self._sizes.update(sizes)


class Context(dict[str, Any]):
    """The context object (`$$`) of one state, and the Scope of variables it runs in (which
    is not part of the document)."""

    def __init__(self, document: dict[str, Any], variables: Scope) -> None:
        super().__init__(document)
        self.variables = variables

    def with_fields(self, **fields: Any) -> "Context":
        """This context with `fields` added or replaced (State, Map)."""
        return Context(dict(self, **fields), self.variables)

    def within(self, variables: Scope) -> "Context":
        """The same document, for the states of another scope."""
        return Context(self, variables)


def lookup(context: Any, name: str) -> Any:
    """The variable `name` in the scope `context` carries; LookupError when it has none."""
    scope = getattr(context, "variables", None)
    if scope is None:
        raise LookupError(name)
    return scope.lookup(name)


def check_name(name: str) -> Optional[str]:
    """Why `name` cannot be a variable's name, or None when it can."""
    if name == RESERVED:
        return "$states is reserved: a variable cannot be named states"
    if not NAME.fullmatch(name) or len(name) > 80:
        return (
            "%r is not a variable name (a letter or _, then letters, digits or _, at most 80)"
            % name
        )
    return None
