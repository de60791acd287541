"""The local twin of AWS Step Functions: an Amazon States Language interpreter (interpreter.py)
whose Task states call integrations the workspace registers (integrations.py)."""
