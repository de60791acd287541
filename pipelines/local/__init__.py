"""The Docker-free local engine: executes a SageMaker Pipelines definition JSON on one machine.

store        s3://bucket/key <-> <home>/s3/bucket/key
expressions  Get / Std:Join / Std:JsonGet and conditions, resolved against an execution
jobs         processing and training jobs as child processes, the container contract mapped
             onto a per-job folder
registry     model package groups, versions and models in SQLite; the step cache
engine       runs the steps in order: caching, retries, branches, statuses, progress
"""
