"""A tuning job's ParameterRanges as dimensions of a unit cube: each strategy proposes points of
[0, 1]^d and this module maps them to hyperparameter values and back, with the range's
ScalingType ("Define Hyperparameter Ranges" in the developer guide):

- Linear: evenly over [min, max]; Auto is Linear here (SageMaker "chooses the best scale"; a
  local choice other than Linear would be a guess at its heuristics).
- Logarithmic: evenly over [log min, log max]; needs min > 0.
- ReverseLogarithmic (continuous only, 0 <= min < max < 1): evenly over
  [log(1 - max), log(1 - min)], dense near 1.
Integers are rounded after scaling; a categorical range takes the value at floor(u * n).
"""

import math
from typing import Any, Dict, List, NamedTuple, Optional

KINDS = ("Integer", "Continuous", "Categorical")


class Dimension(NamedTuple):
    name: str
    kind: str  # Integer | Continuous | Categorical
    low: float = 0.0
    high: float = 0.0
    scaling: str = "Auto"
    values: Optional[List[str]] = None

    def value(self, u: float) -> str:
        """The hyperparameter's value (as the API passes it, a string) at u in [0, 1]."""
        u = min(1.0, max(0.0, float(u)))
        if self.kind == "Categorical":
            assert self.values is not None
            return self.values[min(len(self.values) - 1, int(u * len(self.values)))]
        if self.scaling == "Logarithmic":
            x = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        elif self.scaling == "ReverseLogarithmic":
            top, bottom = math.log(1 - self.low), math.log(1 - self.high)
            x = 1 - math.exp(top + u * (bottom - top))
        else:
            x = self.low + u * (self.high - self.low)
        x = min(self.high, max(self.low, x))
        if self.kind == "Integer":
            return str(int(round(x)))
        return repr(float(x))

    def unit(self, text: Any) -> Optional[float]:
        """Where a value sits in [0, 1] (the inverse of `value`), None when outside the range
        (a warm-start parent's trial of other ranges)."""
        if self.kind == "Categorical":
            assert self.values is not None
            if str(text) not in self.values:
                return None
            return (self.values.index(str(text)) + 0.5) / len(self.values)
        try:
            x = float(text)
        except (TypeError, ValueError):
            return None
        if not self.low <= x <= self.high:
            return None
        if self.high == self.low:
            return 0.5
        if self.scaling == "Logarithmic":
            return (math.log(x) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        if self.scaling == "ReverseLogarithmic":
            top, bottom = math.log(1 - self.low), math.log(1 - self.high)
            return (math.log(1 - x) - top) / (bottom - top)
        return (x - self.low) / (self.high - self.low)

    def contains(self, text: Any) -> bool:
        return self.unit(text) is not None


def dimensions(ranges: Dict[str, Any]) -> List[Dimension]:
    """The ranges of a ParameterRanges object, in the API's order of kinds (checked first by
    validation.py)."""
    found: List[Dimension] = []
    for kind in KINDS:
        for r in ranges.get("%sParameterRanges" % kind) or []:
            if kind == "Categorical":
                found.append(Dimension(r["Name"], kind, values=[str(v) for v in r["Values"]]))
            else:
                found.append(
                    Dimension(
                        r["Name"],
                        kind,
                        float(r["MinValue"]),
                        float(r["MaxValue"]),
                        r.get("ScalingType") or "Auto",
                    )
                )
    return found


def point_values(dims: List[Dimension], point: List[float]) -> Dict[str, str]:
    return {d.name: d.value(u) for d, u in zip(dims, point)}


def point_of(dims: List[Dimension], values: Dict[str, Any]) -> Optional[List[float]]:
    """The unit-cube point of a trial's hyperparameters; None when one is outside its range."""
    point = [d.unit(values.get(d.name)) for d in dims]
    return None if any(u is None for u in point) else [float(u or 0.0) for u in point]
