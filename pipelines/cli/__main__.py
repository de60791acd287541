"""python -m pipelines.cli: the `churn` command."""

import sys

from pipelines.cli import main

sys.exit(main())
