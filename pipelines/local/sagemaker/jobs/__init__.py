"""SageMaker jobs as local processes, one module per job kind.

container   a host's stand-in filesystem, environment, inputs and failure reading
processing  CreateProcessingJob
training    CreateTrainingJob (script mode, one or more hosts)
transform   CreateTransformJob

Each kind takes the resolved request, a job name and folder, the local store and a runner
(pipelines/local/sagemaker/runners.py), and returns the Describe*Job-shaped properties.
"""
