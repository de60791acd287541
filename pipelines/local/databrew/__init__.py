"""The local twin of AWS Glue DataBrew (service.py)."""
