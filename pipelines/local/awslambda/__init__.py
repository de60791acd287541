"""The local AWS Lambda twin: boto3's `lambda` client (service.py) over functions kept in the
home (functions.py), each a Python handler run in a process of its own (runtime.py,
bootstrap.py) from its deployment package, unpacked with bounds (package.py)."""
