"""Hyperparameter tuning jobs run locally (CreateHyperParameterTuningJob's semantics): the
request's checks (validation.py), its ranges as a unit cube (ranges.py), the search strategies
(strategies.py), early stopping and Hyperband's brackets (stopping.py), trials run side by side
and watched (trials.py), and the tuning job itself (job.py). docs/adr/0013 says why so."""
