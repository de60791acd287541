"""SageMaker's local twin: executes a SageMaker Pipelines definition JSON on one machine.

engine       Execution: steps in dependency order, branches, statuses, records, progress
steps        STEP_TYPES, what each step type does; job steps' caching and retries
policies     cache keys and expiry, retry delays
expressions  Get / Std:Join / Std:JsonGet and conditions, resolved against an execution
jobs/        processing, training and transform jobs as child processes, the container contract
             mapped onto a per-job folder
runners      how a job's processes start: cold, or forked from the warm parent (warm_parent)
registry     model package groups, versions and models; step_cache the step cache; both in the
             home's SQLite database (database)
api          boto3's `sagemaker` client over them (docs/adr/0011), composed of mixins by
             concern: registry_api (the registry), pipeline_api (pipelines and their
             executions), job_operations (jobs, run by job_api), model_api (models and
             tags), hosting_api (endpoint configs and endpoints), monitoring_api
             (monitoring schedules); client_base what they share
records      execution records on disk
backend      one home's store, registry, cache, records and runner, opened once
"""
