"""get-pipeline-definition: print a pipeline's definition JSON (SageMaker project template CLI).

  get-pipeline-definition [--module-name pipelines.churn.pipeline] \\
      --kwargs '{"region": "us-east-1", "default_bucket": "my-bucket"}' [--file-name F]

Works with no AWS credentials and no endpoint: code objects have content-hashed keys, so the
JSON is the same whether or not they were uploaded (nothing is uploaded without credentials).
"""

import json
import sys
from typing import Optional, Sequence

from pipelines.cli.template import load_pipeline, parse_kwargs, pipeline_parser, run_command


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = pipeline_parser("get-pipeline-definition", "Print the pipeline definition JSON.")
    parser.add_argument("-f", "--file-name", default=None, help="write here instead of stdout")
    args = parser.parse_args(argv)
    pipeline = load_pipeline(args.module_name, parse_kwargs(args.kwargs))
    text = json.dumps(json.loads(pipeline.definition()), indent=2, sort_keys=True) + "\n"
    if args.file_name:
        with open(args.file_name, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


def entry_point() -> None:
    sys.exit(run_command(main, None, "get-pipeline-definition"))


if __name__ == "__main__":
    entry_point()
