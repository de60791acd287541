"""Whether a running trial stops, judged at each iteration of its objective metric (each line
of its log the objective's metric definition matches: for the XGBoost algorithm, one per
boosting round, `[i]#011...validation-auc:...`). Values are oriented so larger is better.

- MedianRule, TrainingJobEarlyStoppingType Auto, as "Stop Training Jobs Early" describes it:
  after iteration t, the running averages of every earlier trial's objective up to t are
  taken, and the trial stops when its value at t is worse than their median.
- HyperbandRule, the Hyperband strategy: brackets of successive halving with the iterations as
  the resource. Trial i joins bracket i mod (s_max + 1), s_max = floor(log_eta(Max/Min)); in
  bracket s its rungs are at MinResource * eta^(s + k) iterations below MaxResource, and at a
  rung it goes on only while its value is in the top 1/eta of the values its bracket's trials
  had there (asynchronously: the trials that reached the rung so far, itself included). No
  trial stops before MinResource; every trial stops at MaxResource.
"""

import math
import statistics
import threading
from typing import Dict, List, Optional, Sequence, Tuple

ETA = 3  # successive halving keeps a third at each rung, as Hyperband's paper suggests


class StoppingRule(object):
    def stops(self, trial: int, curve: Sequence[float]) -> bool:
        """Whether trial `trial`, whose objective so far is `curve`, stops now."""
        return False

    def finished(self, trial: int, curve: Sequence[float]) -> None:
        """A trial ended (completed or stopped) with this curve."""


class MedianRule(StoppingRule):
    def __init__(self) -> None:
        self.curves: List[List[float]] = []
        self.lock = threading.Lock()

    def stops(self, trial: int, curve: Sequence[float]) -> bool:
        t = len(curve)
        with self.lock:
            averages = [sum(c[:t]) / t for c in self.curves if len(c) >= t]
        return bool(averages) and curve[-1] < statistics.median(averages)

    def finished(self, trial: int, curve: Sequence[float]) -> None:
        with self.lock:
            self.curves.append(list(curve))


class HyperbandRule(StoppingRule):
    def __init__(self, min_resource: int, max_resource: int) -> None:
        self.low, self.high = max(1, min_resource), max_resource
        self.s_max = int(math.floor(math.log(max(1.0, self.high / self.low), ETA) + 1e-9))
        self.rungs: Dict[Tuple[int, int], List[float]] = {}
        self.lock = threading.Lock()

    def bracket(self, trial: int) -> int:
        return trial % (self.s_max + 1)

    def rung_levels(self, trial: int) -> List[int]:
        s = self.bracket(trial)
        levels: List[int] = []
        k = 0
        while True:
            level = self.low * ETA ** (s + k)
            if level >= self.high:
                return levels
            levels.append(level)
            k += 1

    def stops(self, trial: int, curve: Sequence[float]) -> bool:
        t = len(curve)
        if t >= self.high:
            return True
        if t not in self.rung_levels(trial):
            return False
        with self.lock:
            seen = self.rungs.setdefault((self.bracket(trial), t), [])
            seen.append(curve[-1])
            keep = max(1, len(seen) // ETA)
            cutoff = sorted(seen, reverse=True)[keep - 1]
        return curve[-1] < cutoff


def rule(early_stopping: str, strategy: str, hyperband: Optional[Tuple[int, int]]) -> StoppingRule:
    if strategy == "Hyperband" and hyperband is not None:
        return HyperbandRule(*hyperband)
    if early_stopping == "Auto":
        return MedianRule()
    return StoppingRule()
