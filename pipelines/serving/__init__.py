"""Serving the registered model: the SageMaker hosting contract on a local HTTP server, with
data capture. model.py finds and unpacks a model, handlers.py imports its inference code,
capture.py writes capture records, app.py is the ASGI application (asgi.py: its types)."""
