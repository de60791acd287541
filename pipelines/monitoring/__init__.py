"""Drift monitoring of captured requests against a registered version's data-quality baseline
(`churn monitor`), independent of where the capture lives.

capture_reader  capture files and records -> request rows (with the inference code's rules)
drift           the data-quality checks and per-feature drift distances
report          constraint_violations.json, Embedded Metric Format lines, the local run
"""
