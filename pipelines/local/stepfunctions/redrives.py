"""What a redrive keeps of a Parallel or inline Map state that did not succeed: "For workflows
that include an Inline Map or Parallel state, RedriveExecution API action reschedules and
redrives only the iterations and branches that failed or aborted"
(https://docs.aws.amazon.com/step-functions/latest/apireference/API_RedriveExecution.html).

An execution keeps, for each of its top-level Parallel and inline Map states while it runs,
the outputs of the branches (iterations) that succeeded, by their index; a state that ends well
drops them, so what is kept when the execution stops is what its unfinished state had done. The
service writes them into the execution's record, and a redrive that starts at that state gives
them back: those branches are not run again, their outputs are the state's as before, and only
the others run (once: a Retry of the state in the redrive runs all of them again, as a Retry
does). A branch's own Parallel or Map states are not kept: a branch that runs again runs whole.
"""

import threading
from typing import Any, Optional


class BranchOutcomes:
    """The succeeded branches of an execution's top-level Parallel and inline Map states, and
    in a redrive those of the state it starts at (`state`) from the attempt before
    (`earlier`: index to output), which that state's first run takes instead of running
    them."""

    def __init__(
        self, state: Optional[str] = None, earlier: Optional[dict[str, Any]] = None
    ) -> None:
        self._redriven = state
        # a record's keys are JSON's strings
        self._earlier: dict[int, Any] = {int(i): v for i, v in (earlier or {}).items()}
        self._succeeded: dict[str, dict[int, Any]] = {}
        self._lock = threading.Lock()

    def entered(self, state: str) -> dict[int, Any]:
        """The state starts its branches: those that need not run again (the redrive's state,
        its first run; otherwise none), counted as succeeded already."""
        with self._lock:
            kept: dict[int, Any] = {}
            if state == self._redriven:
                kept, self._redriven, self._earlier = self._earlier, None, {}
            self._succeeded[state] = dict(kept)
            return kept

    def succeeded(self, state: str, index: int, output: Any) -> None:
        with self._lock:
            self._succeeded.setdefault(state, {})[index] = output

    def finished(self, state: str) -> None:
        """The state ended well: nothing of it is kept for a redrive."""
        with self._lock:
            self._succeeded.pop(state, None)

    def record(self) -> dict[str, Any]:
        """What the execution's record keeps: state name to {index (a string): output}."""
        with self._lock:
            return {
                state: {str(i): output for i, output in sorted(done.items())}
                for state, done in self._succeeded.items()
            }
