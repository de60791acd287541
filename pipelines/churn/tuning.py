"""The template's hyperparameter search: what the TuneModel step (get_pipeline's
`tuning_trials=N`, `churn run --tune N`) tunes in training/train.py, over which ranges, toward
which objective. Plain data; pipeline.py turns it into the SDK's HyperparameterTuner.

The ranges hold the seed hyperparameters (max_depth 5, eta 0.2, gamma 4, min_child_weight 6,
subsample 0.8, all features, 100 rounds) and reach what the public tables' best models use:
shallower or deeper trees, a smaller learning rate with more rounds (early stopping still ends
each trial when the validation logloss stops improving), and a share of the features per tree.
"""

from typing import Dict, Tuple

OBJECTIVE = "validation:auc"  # the metric definition TrainModel's log already feeds
OBJECTIVE_TYPE = "Maximize"
# Grid needs categorical ranges only, which this space is not.
STRATEGIES = ("Bayesian", "Random", "Hyperband")
MAX_TRIALS = 100  # a guard on cost: SageMaker allows more, a local run should not
# Hyperband gives each trial a number of rounds (its resource: one validation:auc line a
# round) from MinResource to MaxResource itself, so num_round is not searched then but fixed at
# MaxResource.
HYPERBAND_RESOURCE = ("num_round", 20, 600)
# name -> (range type, min, max, scaling type)
SEARCH_SPACE: Dict[str, Tuple[str, float, float, str]] = {
    "max_depth": ("Integer", 3, 8, "Auto"),
    "eta": ("Continuous", 0.01, 0.3, "Logarithmic"),
    "gamma": ("Continuous", 0.0, 10.0, "Linear"),
    "min_child_weight": ("Continuous", 1.0, 20.0, "Logarithmic"),
    "subsample": ("Continuous", 0.5, 1.0, "Linear"),
    "colsample_bytree": ("Continuous", 0.4, 1.0, "Linear"),
    "num_round": ("Integer", 100, 600, "Auto"),
}
