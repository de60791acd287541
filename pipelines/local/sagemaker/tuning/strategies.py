"""How a tuning job chooses each trial's hyperparameters: points of the unit cube of its ranges
(ranges.py), proposed one at a time given what the trials so far scored.

- Random: uniform over the cube, so uniform in each range's scaled space.
- Grid: every combination of the categorical values, in order (Grid takes categorical ranges
  only), at most MaxNumberOfTrainingJobs of them when that is set.
- Bayesian: a Gaussian process (Matern 5/2 kernel with a noise term, scikit-learn) fitted to the
  scored points, the next point the candidate of highest expected improvement; trials still
  running count at the model's mean ("kriging believer"), so parallel trials spread out. The
  first points are random, as a surrogate needs data (docs/adr/0013).
- Hyperband: Random's points; its brackets act while trials run (stopping.py).
Every strategy draws from one generator seeded by RandomSeed, so a seed gives the same points.
"""

import itertools
import warnings
from typing import List, Optional, Sequence, Tuple

from pipelines.local.sagemaker.tuning.ranges import Dimension

Point = List[float]
Scored = Tuple[Point, float]  # a point and its objective, larger is better (minimised: negated)

CANDIDATES = 2048  # expected improvement is maximised over this many random candidates ...
LOCAL = 256  # ... and this many perturbations of the best point so far


class Strategy(object):
    def __init__(self, dims: List[Dimension], seed: Optional[int]) -> None:
        import numpy as np  # lazily: the engine imports this module for every definition

        self.dims = dims
        self.rng = np.random.default_rng(seed)

    def total(self, limit: Optional[int]) -> int:
        """How many trials the strategy runs at most."""
        return int(limit or 0)

    def propose(self, scored: Sequence[Scored], pending: Sequence[Point]) -> Point:
        return [float(u) for u in self.rng.random(len(self.dims))]


class RandomSearch(Strategy):
    pass


class GridSearch(Strategy):
    def __init__(self, dims: List[Dimension], seed: Optional[int]) -> None:
        super().__init__(dims, seed)
        sizes = [len(d.values or []) for d in dims]
        self.grid = [
            [(i + 0.5) / n for i, n in zip(combination, sizes)]
            for combination in itertools.product(*[range(n) for n in sizes])
        ]
        self.next = 0

    def total(self, limit: Optional[int]) -> int:
        return len(self.grid) if limit is None else min(int(limit), len(self.grid))

    def propose(self, scored: Sequence[Scored], pending: Sequence[Point]) -> Point:
        point = self.grid[self.next]
        self.next += 1
        return point


class BayesianSearch(Strategy):
    def initial_points(self) -> int:
        return max(3, min(len(self.dims) + 1, 10))

    def propose(self, scored: Sequence[Scored], pending: Sequence[Point]) -> Point:
        if len(scored) < self.initial_points():
            return super().propose(scored, pending)
        import numpy as np
        from scipy.stats import norm
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

        x = np.array([p for p, _ in scored])
        y = np.array([v for _, v in scored])
        kernel = ConstantKernel(1.0) * Matern(
            length_scale=np.full(len(self.dims), 0.3), length_scale_bounds=(1e-2, 10.0), nu=2.5
        ) + WhiteKernel(1e-3, noise_level_bounds=(1e-6, 1e-1))
        gp = GaussianProcessRegressor(
            kernel, normalize_y=True, random_state=int(self.rng.integers(2**31))
        )
        with warnings.catch_warnings():  # an optimiser's note on a small sample, not a fault
            warnings.simplefilter("ignore")
            gp.fit(x, y)
        if pending:  # kriging believer: the running trials as if they scored the mean
            believed = gp.predict(np.array(pending))
            gp = GaussianProcessRegressor(gp.kernel_, normalize_y=True, optimizer=None)
            gp.fit(np.vstack([x, pending]), np.concatenate([y, believed]))
        best = x[int(np.argmax(y))]
        local = np.clip(best + self.rng.normal(0, 0.1, (LOCAL, len(self.dims))), 0.0, 1.0)
        candidates = np.vstack([self.rng.random((CANDIDATES, len(self.dims))), local])
        mean, sd = gp.predict(candidates, return_std=True)
        sd = np.maximum(sd, 1e-9)
        gain = mean - y.max()
        z = gain / sd
        improvement = gain * norm.cdf(z) + sd * norm.pdf(z)
        return [float(u) for u in candidates[int(np.argmax(improvement))]]


STRATEGIES = {
    "Random": RandomSearch,
    "Grid": GridSearch,
    "Bayesian": BayesianSearch,
    "Hyperband": RandomSearch,
}


def strategy(name: str, dims: List[Dimension], seed: Optional[int]) -> Strategy:
    return STRATEGIES[name](dims, seed)
