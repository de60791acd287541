"""Container scripts; see the module docstrings. Not imported by the jobs themselves."""
