"""The smoke and load test of a deployed endpoint: the gate between staging and production.

One piece of code for both places it runs: the release CodePipeline's test action on AWS
(`python -m pipelines.aws.stage_test --endpoint-name <prefix>-staging --region R`, in CodeBuild)
and `churn release` locally, each on its own `sagemaker-runtime` client (boto3's, or the local
twin's: pipelines/local/sagemaker/runtime.py), through real InvokeEndpoint calls.

- Smoke: one request with a few rows made from the schema's own rules (sample_rows: the
  feature columns by name, values inside each numeric feature's bounds, categories from its
  declared values), so it fits any user's schema; the answer must be one probability in [0, 1]
  per row sent.
- Load: `requests` single-row requests over `concurrency` threads, each timed; it passes only
  with no failed request and a p99 latency within the budget.

A failure is a report whose `passed` is false, never an exception; `main` prints one line and
exits 0 or 1, never a traceback.
"""

import argparse
import concurrent.futures
import math
import sys
import time
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence

from pipelines.aws.errors import aws_errors
from pipelines.aws.runtime import invoke_endpoint
from pipelines.errors import UserError
from processing.churn_schema import SchemaError, load_schema

SMOKE_ROWS = 5
REQUESTS = 200
CONCURRENCY = 4
P99_BUDGET_MS = 1000.0
CSV = "text/csv"


@dataclass(frozen=True)
class StageReport:
    """What the test saw: `smoke` None when the smoke request passed, else why not;
    `first_error` the first failed load request's reason."""

    endpoint: str
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    budget_ms: float
    smoke: Optional[str] = None
    first_error: Optional[str] = None

    @property
    def passed(self) -> bool:
        return self.smoke is None and self.errors == 0 and self.p99_ms <= self.budget_ms

    def line(self) -> str:
        """The one line the CodeBuild log and `churn release` show."""
        if self.smoke is not None:
            return "stage test %s: smoke failed: %s: failed" % (self.endpoint, self.smoke)
        verdict = "passed"
        if self.errors:
            verdict = "failed (first error: %s)" % self.first_error
        elif self.p99_ms > self.budget_ms:
            verdict = "failed (p99 over the budget)"
        return "stage test %s: %d requests, %d errors, p50 %s ms, p99 %s ms (budget %s ms): %s" % (
            self.endpoint,
            self.requests,
            self.errors,
            _ms(self.p50_ms),
            _ms(self.p99_ms),
            _ms(self.budget_ms),
            verdict,
        )


def sample_rows(schema: Any, count: int = SMOKE_ROWS) -> List[str]:
    """A header line of `schema`'s features and `count` rows a model trained on it accepts:
    numeric values spread inside each feature's [min, max] (whole numbers where it says
    integer), categories cycled from its declared values. `schema` is
    processing/churn_schema.py's Schema. A required categorical feature with no declared values
    (its categories came from the training table) cannot be filled from the schema: refused."""
    columns = []
    for feature in schema.features:
        if feature.is_numeric:
            lo = feature.min if feature.min is not None else (
                feature.max - 100 if feature.max is not None else 0)  # fmt: skip
            hi = feature.max if feature.max is not None else lo + 100
            values = []
            for i in range(count):
                value = lo + (hi - lo) * (i + 1) / (count + 1)  # inside the bounds
                values.append(str(round(value)) if feature.integer else repr(round(value, 4)))
        elif feature.values:
            values = [feature.values[i % len(feature.values)] for i in range(count)]
        elif feature.completeness < 1.0:
            values = [""] * count  # a missing value, which the schema allows
        else:
            raise UserError(
                "schema %s: feature %s is categorical with no declared values, so the stage "
                'test cannot choose one a model accepts: list them ("values": [...]) in the '
                "schema" % (schema.name, feature.name)
            )
        columns.append(values)
    header = ",".join(_csv_field(f.name) for f in schema.features)
    return [header] + [",".join(_csv_field(c[i]) for c in columns) for i in range(count)]


def stage_test(
    runtime: Any,
    endpoint_name: str,
    rows: Sequence[str],
    requests: int = REQUESTS,
    concurrency: int = CONCURRENCY,
    p99_budget_ms: float = P99_BUDGET_MS,
) -> StageReport:
    """Smoke then load test `endpoint_name` through `runtime` (a sagemaker-runtime client);
    `rows`: a CSV header line and the rows to send (sample_rows)."""
    header, data = rows[0], list(rows[1:])
    if requests < 1 or concurrency < 1 or not data:
        raise UserError("the stage test needs at least one request, one thread and one row")
    smoke = _problem(runtime, endpoint_name, "\n".join([header] + data), len(data))
    if smoke is not None:
        return StageReport(endpoint_name, 1, 1, 0.0, 0.0, p99_budget_ms, smoke=smoke)

    def one(i: int) -> "tuple[float, Optional[str]]":
        body = "%s\n%s" % (header, data[i % len(data)])
        start = time.perf_counter()
        problem = _problem(runtime, endpoint_name, body, 1)
        return (time.perf_counter() - start) * 1000.0, problem

    with concurrent.futures.ThreadPoolExecutor(max_workers=concurrency) as pool:
        outcomes = list(pool.map(one, range(requests)))
    latencies = sorted(ms for ms, _ in outcomes)
    failed = [problem for _, problem in outcomes if problem is not None]
    return StageReport(
        endpoint_name,
        requests,
        len(failed),
        _percentile(latencies, 0.50),
        _percentile(latencies, 0.99),
        p99_budget_ms,
        first_error=failed[0] if failed else None,
    )


def _problem(runtime: Any, endpoint_name: str, body: str, count: int) -> Optional[str]:
    """Why the answer to `body` (`count` rows) is not one probability per row, or None."""
    try:
        answer = invoke_endpoint(runtime, endpoint_name, body.encode(), CSV, CSV)
    except UserError as e:  # a refusal, ModelError included, as one line
        return str(e)
    lines = [line for line in answer.strip().splitlines() if line.strip()]
    if len(lines) != count:
        return "%d rows sent, %d answered" % (count, len(lines))
    for line in lines:
        try:
            score = float(line.split(",")[0])
        except ValueError:
            return "answered %r, not a probability" % line[:80]
        if not 0.0 <= score <= 1.0:
            return "answered %g, not a probability in [0, 1]" % score
    return None


def _percentile(sorted_ms: List[float], q: float) -> float:
    """The nearest-rank percentile."""
    return sorted_ms[max(0, math.ceil(q * len(sorted_ms)) - 1)]


def _ms(value: float) -> str:
    return "%.3g" % value if value < 1 else "%.0f" % value


def _csv_field(text: str) -> str:
    return '"%s"' % text.replace('"', '""') if any(c in text for c in ',"\n') else text


def _positive(cast: Any) -> Any:
    def parse(text: str) -> Any:
        value = cast(text)
        if not value > 0:
            raise argparse.ArgumentTypeError("%r is not above 0" % text)
        return value

    parse.__name__ = cast.__name__  # argparse names the type in its message
    return parse


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m pipelines.aws.stage_test",
        description="Smoke and load test a deployed endpoint; exit 1 if it fails.",
    )
    p.add_argument("--endpoint-name", required=True, help="the endpoint to test")
    p.add_argument("--region", help="AWS region (default: the session's)")
    p.add_argument(
        "--endpoint-url",
        help="sagemaker-runtime's URL, e.g. http://127.0.0.1:4566 for `churn local` "
        "(default: AWS's)",
    )
    p.add_argument(
        "--assume-role-arn",
        help="act as this role (the release action role of a stage in an account of its own; "
        "default: the session's credentials)",
    )
    p.add_argument(
        "--schema", default="seed", help="the model's schema: a name or file (default: seed)"
    )
    p.add_argument("--requests", type=_positive(int), default=REQUESTS, help="default: %(default)s")
    p.add_argument(
        "--concurrency", type=_positive(int), default=CONCURRENCY, help="threads (default: 4)"
    )
    p.add_argument(
        "--p99-ms",
        type=_positive(float),
        default=P99_BUDGET_MS,
        help="the p99 latency budget in ms (default: %(default)s)",
    )
    return p


def assumed(session: Any, role_arn: str, endpoint_url: Optional[str] = None) -> Any:
    """A boto3 session acting as `role_arn` (STS AssumeRole, one hour)."""
    import boto3

    sts = session.client("sts", endpoint_url=endpoint_url)
    credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName="stage-test")["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=session.region_name,
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parser().parse_args(argv)
    try:
        try:
            schema = load_schema(args.schema)
        except SchemaError as e:
            raise UserError(str(e))
        rows = sample_rows(schema)
        with aws_errors("endpoint %s: " % args.endpoint_name):
            import boto3

            session = boto3.session.Session(region_name=args.region)
            if args.assume_role_arn:  # the endpoint is in another account (a stage's own)
                session = assumed(session, args.assume_role_arn, args.endpoint_url)
            runtime = session.client("sagemaker-runtime", endpoint_url=args.endpoint_url)
            report = stage_test(
                runtime, args.endpoint_name, rows, args.requests, args.concurrency, args.p99_ms
            )
    except UserError as e:
        sys.stderr.write("stage test %s: error: %s\n" % (args.endpoint_name, e))
        return 1
    print(report.line())
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
