"""Parallel and inline Map states: their branches or iterations, each a state machine of its
own, run concurrently; the first failure cancels the others (a mixin of the interpreter's
Machine).
"""

import concurrent.futures
import json
import threading
from typing import Any, Callable, Optional

from pipelines.local.stepfunctions import (
    distributed,
    distributed_checks,
    errors,
    expressions,
    processing,
)
from pipelines.local.stepfunctions.errors import StatesError
from pipelines.local.stepfunctions.expressions import JSONATA
from pipelines.local.stepfunctions.runtime import Document, Run
from pipelines.local.stepfunctions.variables import Context, Scope

MAP_CONCURRENCY = 40  # an inline Map's iterations at once when MaxConcurrency is 0, as on AWS


class BranchStates:
    """A Parallel or Map state run: its branches (iterations) as machines of their own."""

    execution: Run
    cancelled: threading.Event
    language: str
    scope: Scope  # the Machine's: a top-level one's has no parent

    # JsonataStates' (jsonata_states.py), declared for the type checker
    _jsonata_items: Callable[[str, Document, Any, Context], Any]
    _jsonata_item_input: Callable[[Document, Any, Context], Any]
    _jsonata_number: Callable[[str, Document, Any, Context], Any]

    def _branch(self, definition: Document) -> "BranchStates":
        """A machine of `definition`'s states in this one's execution, cancelled on its own."""
        raise NotImplementedError

    def run(self, document: Any, context: Document) -> Any:
        raise NotImplementedError

    def _parallel(self, name: str, state: Document, effective: Any, context: Document) -> Any:
        history = self.execution.history
        history.add("ParallelStateStarted")
        branches = state["Branches"]
        if "Parameters" in state:  # each branch's input, as a Task's Parameters are its call's
            effective = processing.template(state["Parameters"], effective, context)
        try:
            results = self._concurrently(
                [(self._branch(b), effective, context) for b in branches],
                len(branches),
                kept=self._kept(name),
            )
        except StatesError:
            history.add("ParallelStateFailed")
            raise
        self._finished(name)
        history.add("ParallelStateSucceeded")
        return results

    def _kept(self, name: str) -> Optional["Kept"]:
        """A top-level Parallel or inline Map state's branches kept for a redrive
        (redrives.py), and those a redrive need not run again; None inside a branch (a branch
        that runs again runs whole)."""
        if self.scope.parent is not None:
            return None
        return name, self.execution.branches.entered(name)

    def _finished(self, name: str) -> None:
        if self.scope.parent is None:
            self.execution.branches.finished(name)

    def _map(self, name: str, state: Document, effective: Any, context: Context) -> Any:
        language = expressions.language(state, self.language)
        if distributed_checks.is_distributed(
            state
        ):  # a Map Run of child executions: distributed.py
            return distributed.run_map(self.execution, self.cancelled, name, state, effective,
                                       context, language)  # fmt: skip
        jsonata = language == JSONATA
        if jsonata:
            items = self._jsonata_items(name, state, effective, context)
        elif "ItemsPath" in state:
            items = processing.select(effective, state["ItemsPath"], context, "ItemsPath")
        else:
            items = effective
        if not isinstance(items, list):
            raise StatesError(
                errors.QUERY_EVALUATION if jsonata else errors.RUNTIME,
                "The Map state %r's items are %s, not an array" % (name, _kind(items)),
            )
        selector = state.get("ItemSelector", state.get("Parameters"))
        processor = state.get("ItemProcessor") or state["Iterator"]
        history = self.execution.history
        history.add("MapStateStarted", {"length": len(items)})
        work: list["Work"] = []
        for index, item in enumerate(items):
            item_context = context.with_fields(
                Map={"Item": {"Index": index, "Value": item, "Source": "STATE_DATA"}}
            )  # Source: where the item came from; an inline Map's are the state's input
            if jsonata:
                value = self._jsonata_item_input(state, effective, item_context)
            elif selector:
                value = processing.template(selector, effective, item_context)
            else:
                value = item
            work.append((self._branch(processor), value, context))
        limit = self._max_concurrency(name, state, effective, context, jsonata)
        try:
            results = self._concurrently(
                work, limit or MAP_CONCURRENCY, map_state=name, kept=self._kept(name)
            )
        except StatesError:
            history.add("MapStateFailed")
            raise
        self._finished(name)
        history.add("MapStateSucceeded")
        return results

    def _max_concurrency(
        self, name: str, state: Document, effective: Any, context: Context, jsonata: bool
    ) -> int:
        """MaxConcurrency (a number, or in JSONata an expression), or MaxConcurrencyPath's
        value; 0 is no limit of the state's own."""
        if jsonata:
            limit = self._jsonata_number("MaxConcurrency", state, effective, context)
            field = "MaxConcurrency"
        elif "MaxConcurrencyPath" in state:
            limit = processing.select(
                effective, state["MaxConcurrencyPath"], context, "MaxConcurrencyPath"
            )
            field = "MaxConcurrencyPath"
        else:
            return int(state.get("MaxConcurrency", 0))
        if limit is None and jsonata and "MaxConcurrency" not in state:
            return 0
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise StatesError(
                errors.QUERY_EVALUATION if jsonata else errors.RUNTIME,
                "The %s of Map state %r is %s, not a non-negative integer"
                % (field, name, json.dumps(limit)),
            )
        return limit

    def _concurrently(
        self,
        work: list["Work"],
        limit: int,
        map_state: Optional[str] = None,
        kept: Optional["Kept"] = None,
    ) -> list[Any]:
        """Each (machine, input, context) run, at most `limit` at once; the results in order.
        The first failure cancels the others and is raised. With `kept` (a top-level state's
        name and the outputs a redrive keeps by index), those are not run again, and each
        that succeeds is kept."""
        history = self.execution.history
        results: list[Any] = [None] * len(work)
        failure: list[StatesError] = []
        done = kept[1] if kept is not None else {}
        todo = [i for i in range(len(work)) if i not in done]
        for i in range(len(work)):
            if i in done:
                results[i] = done[i]

        def one(i: int) -> None:
            machine, document, context = work[i]
            if map_state is not None:
                history.add("MapIterationStarted", {"name": map_state, "index": i})
            try:
                results[i] = machine.run(document, context)
            except StatesError as e:
                if map_state is not None:
                    history.add("MapIterationFailed", {"name": map_state, "index": i})
                if not failure:
                    failure.append(e)
                for other, _, _ in work:
                    other.cancelled.set()
                return
            if kept is not None:
                self.execution.branches.succeeded(kept[0], i, results[i])
            if map_state is not None:
                history.add("MapIterationSucceeded", {"name": map_state, "index": i})

        over = threading.Event()

        def forward_cancel() -> None:
            """A cancelled parent (a sibling of its own failed) cancels its children."""
            while not over.is_set():
                if self.cancelled.wait(0.05):
                    for machine, _, _ in work:
                        machine.cancelled.set()
                    return

        threading.Thread(target=forward_cancel, daemon=True).start()
        try:
            with concurrent.futures.ThreadPoolExecutor(max(1, min(limit, len(todo) or 1))) as pool:
                list(pool.map(one, todo))
        finally:
            over.set()
        if failure:
            raise failure[0]
        return results


def _kind(value: Any) -> str:
    """A JSON value's kind, as a message names it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an object"


# What Parallel and Map run concurrently: (machine, its input, the context object)
Work = tuple[BranchStates, Any, Document]
# A top-level state's name and the outputs of its branches a redrive keeps, by index
Kept = tuple[str, dict[int, Any]]
