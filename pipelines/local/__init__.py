"""The Docker-free twins of the AWS services the template uses, one package per service (as moto
keeps one backend per service). They run what the AWS APIs would be asked to run, on this
machine, and know nothing of churn: building the churn definition and choosing its bucket
belong to the layer above (pipelines/workspace.py).

arns         the one ARN formatter, with the stand-in account and region
s3           s3://bucket/key <-> <home>/s3/bucket/key
sagemaker/   SageMaker Pipelines: the engine that executes a definition JSON, its step types,
             jobs as processes, the model registry and the step cache
"""
