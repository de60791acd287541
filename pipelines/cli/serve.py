"""`churn serve` and `churn predict`: the SageMaker hosting contract on this machine, and a
client for it (or for a SageMaker endpoint on AWS)."""

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from pipelines.aws.errors import aws_errors
from pipelines.churn.feature_group import DEFAULT_NAME as DEFAULT_GROUP
from pipelines.cli.common import (
    add_home,
    add_model_choice,
    group_of,
    percentage,
    port_number,
    positive_float,
    positive_int,
)
from pipelines.cli.target import Target, add_target, resolve
from pipelines.errors import UserError, first_line
from pipelines.local.sagemaker.algorithms import SERVING_DIR, SERVING_PROGRAM, model_algorithm
from pipelines.serving.model import ServableModel, from_dir
from pipelines.workspace import endpoint_name

if TYPE_CHECKING:
    from pipelines.workspace import Home, Workspace


def servable(args: argparse.Namespace, ws: "Workspace", ref: Optional[Any] = None) -> ServableModel:
    """The model a serving command names: --model-dir, a local endpoint's model container
    (--model-container), else a registered version (`ref`, or the newest Approved one of the
    group --schema or --group names)."""
    if args.model_dir:
        return from_dir(args.model_dir)
    if getattr(args, "model_container", None):
        return container_model(ws, json.loads(args.model_container))
    return ws.versions.servable_model(ref, group_of(args), args.allow_unapproved)


def container_model(ws: "Workspace", container: Dict[str, Any]) -> ServableModel:
    """The model of a CreateModel container (ModelDataUrl, and the serving code its Environment
    names) fetched from the home's store, as a SageMaker endpoint's instance fetches it."""
    from pipelines.serving.model import unpack_model

    env = container.get("Environment") or {}
    submit = env.get("SAGEMAKER_SUBMIT_DIRECTORY", "")
    model_dir = unpack_model(
        ws.home / "serving",
        ws.store.file(container["ModelDataUrl"]),
        ws.store.file(submit) if submit.startswith("s3://") else None,
        label=container["ModelDataUrl"],
    )
    model = from_dir(model_dir)
    model.program = env.get("SAGEMAKER_PROGRAM", model.program)
    model.description = container["ModelDataUrl"]
    if model_algorithm(container) is not None:
        # The XGBoost image's own inference (docs/container-contracts.md section 3.4), which
        # reads its settings (SAGEMAKER_INFERENCE_OUTPUT, ...) from the container's Environment.
        model.code_dir, model.program = str(SERVING_DIR), SERVING_PROGRAM
        os.environ.update({k: str(v) for k, v in env.items()})
    return model


def check_loads(model: ServableModel) -> None:
    """Load the model once here, so a model that cannot be loaded is one line instead of a
    traceback from every worker (with one worker the libraries are imported here anyway)."""
    from pipelines.serving.handlers import load_handlers

    try:
        load_handlers(model.code_dir, model.program).model_fn(model.model_dir)
    except UserError:
        raise
    except Exception as e:
        raise UserError(
            "the model in %s cannot be loaded: %s: %s"
            % (model.model_dir, type(e).__name__, first_line(e))
        )


def cmd_serve(args: argparse.Namespace, ws: "Workspace") -> int:
    import uvicorn

    from pipelines.serving.app import CONFIG_ENV
    from pipelines.serving.protocol import ServingProtocol

    endpoint_name(args.endpoint_name)  # it names the capture's folder and the record
    sources = [x for x in (args.model_version, args.model_package_arn, args.model_dir) if x]
    if len(sources) + bool(args.model_container) > 1:
        raise UserError("give one of --model-version, --model-package-arn, --model-dir")
    model = servable(args, ws, sources[0] if sources else None)
    check_loads(model)
    config: Dict[str, Any] = {
        "model_dir": model.model_dir,
        "code_dir": model.code_dir,
        "program": model.program,
        "request_timeout": args.request_timeout,
    }
    if args.capture_percent > 0:
        config["capture"] = {
            "destination": str(Path(args.capture_dir or ws.endpoints.capture_dir)),
            "endpoint": args.endpoint_name,
            "percent": args.capture_percent,
        }
    os.environ[CONFIG_ENV] = json.dumps(config)
    port = args.port
    if port is None:
        try:
            port = port_number(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080"))
        except argparse.ArgumentTypeError as e:
            raise UserError("SAGEMAKER_BIND_TO_PORT: %s" % e)
    check_port_free(args.host, port)
    ws.endpoints.record_serving(
        args.endpoint_name,
        model.model_package_arn,
        config["capture"]["destination"] if "capture" in config else None,
    )
    print(
        "serving %s on http://%s:%d (%d worker%s); data capture %s"
        % (
            model.description,
            args.host,
            port,
            args.workers,
            "s" if args.workers > 1 else "",
            "%g%% to %s" % (args.capture_percent, config["capture"]["destination"])
            if "capture" in config
            else "off",
        )
    )
    sys.stdout.flush()
    ws.close()  # the workers open what they need themselves
    uvicorn.run(
        "pipelines.serving.app:app_from_env",
        factory=True,
        host=args.host,
        port=port,
        workers=args.workers,
        loop="uvloop",
        http=ServingProtocol,
        log_level="warning",
        # No per-request access log and no X-Forwarded-* rewriting: a twelfth of a
        # one-row request, for nothing the hosting contract uses.
        access_log=False,
        proxy_headers=False,
        timeout_graceful_shutdown=30,
    )
    return 0


def serving_argv(
    ws: "Home",
    model: Dict[str, Any],
    port: int,
    endpoint: str,
    capture: Optional[Dict[str, Any]],
    log: str,
) -> List[str]:
    """The argv of a local endpoint's serving process (the workspace's launcher,
    pipelines/workspace/home.py): `churn serve` of the model (a DescribeModel answer): its
    model package, or its container's artifact and serving code (what pipelines/aws/deploy.py
    and a training job's model name), which the process fetches itself, so a missing artifact
    fails the endpoint as on SageMaker; capture as the endpoint config asks, into the local
    store's path of its destination."""
    container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
    if container.get("ModelPackageName"):
        source = ["--model-package-arn", container["ModelPackageName"]]
    elif container.get("ModelDataUrl"):  # a package's container, a training job's artifact
        source = ["--model-container", json.dumps(container, default=str)]
    else:
        raise UserError(
            "model %s: a local endpoint serves a model package (ModelPackageName) or a "
            "model artifact (ModelDataUrl)" % model["ModelName"]
        )
    argv = [sys.executable, "-m", "pipelines.cli", "serve", "--home", str(ws.home), *source,
            "--port", str(port), "--endpoint-name", endpoint]  # fmt: skip
    if capture and capture.get("EnableCapture", True):
        argv += [
            "--capture-percent",
            str(capture.get("InitialSamplingPercentage", 100)),
            "--capture-dir",
            str(ws.store.path(capture["DestinationS3Uri"])),
        ]
    else:
        argv += ["--capture-percent", "0"]
    return argv


def check_port_free(host: str, port: int) -> None:
    """Bind the address as uvicorn will, so a port in use is one line before anything is
    printed, instead of uvicorn's own error after the serving line."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as e:
            raise UserError(
                "cannot serve on %s:%d: %s; stop what listens there or pass --port"
                % (host, port, e.strerror or e)
            )


def cmd_predict(args: argparse.Namespace, ws: "Workspace") -> int:
    import urllib.error
    import urllib.request

    given = [x for x in (args.file, args.json, args.csv, args.customer_id) if x is not None]
    if len(given) != 1:
        raise UserError("give exactly one of --file, --json, --csv, --customer-id")
    if args.customer_id:
        body, content_type = customer_features(args, ws), "application/json"
    elif args.file:
        try:
            body = Path(args.file).read_bytes()
        except OSError as e:
            raise UserError("cannot read %s: %s" % (args.file, e.strerror))
        content_type = (
            "application/json"
            if args.file.endswith(".json")
            else "application/jsonlines"
            if args.file.endswith(".jsonl")
            else "text/csv"
        )
    elif args.json:
        body, content_type = args.json.encode(), "application/json"
    else:
        body, content_type = args.csv.encode(), "text/csv"
    if args.endpoint_name:
        answer = invoke_named_endpoint(
            resolve(args, ws), args.endpoint_name, body, content_type, args.accept
        )
        sys.stdout.write(answer + ("" if args.accept.endswith("csv") else "\n"))
        return 0
    request = urllib.request.Request(
        args.endpoint.rstrip("/") + "/invocations",
        data=body,
        headers={"Content-Type": content_type, "Accept": args.accept},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            sys.stdout.write(response.read().decode("utf-8"))
    except urllib.error.HTTPError as e:
        raise UserError("the endpoint answered %d: %s" % (e.code, _message(e.read())))
    except (urllib.error.URLError, OSError) as e:
        raise UserError(
            "cannot reach %s (%s); is `churn serve` running?"
            % (args.endpoint, getattr(e, "reason", e))
        )
    if not args.accept.endswith("csv"):
        sys.stdout.write("\n")
    return 0


def _message(body: bytes) -> Any:
    """An error answer's message: the JSON "message" the hosting contract sends, or the text."""
    detail = body.decode("utf-8", "replace")
    try:
        return json.loads(detail)["message"]
    except (ValueError, KeyError, TypeError):
        return detail


def customer_features(args: argparse.Namespace, ws: "Workspace") -> bytes:
    """The customer's online record from the target's feature group (GetRecord) as one JSON
    instance, by feature name: the model reads its own input
    columns from it, whatever its schema."""
    from pipelines.aws.featurestore import online_record

    target = resolve(args, ws)
    runtime = target.client("sagemaker-featurestore-runtime")
    control = target.client("sagemaker")
    record = online_record(runtime, args.feature_group, args.customer_id)
    with aws_errors("feature group %s: " % args.feature_group):
        described = control.describe_feature_group(FeatureGroupName=args.feature_group)
    # A record holds no feature whose value was missing: send those as null, as the
    # hosting contract says a missing value is sent.
    names = [d["FeatureName"] for d in described["FeatureDefinitions"]]
    return json.dumps({"instances": [{n: record.get(n) for n in names}]}).encode()


def invoke_named_endpoint(
    target: Target, name: str, body: bytes, content_type: str, accept: str
) -> str:
    """InvokeEndpoint (sagemaker-runtime) on the target's endpoint `name`; a name the target
    has no endpoint of is one line naming where it looked (InvokeEndpoint's own refusal)."""
    from pipelines.aws.runtime import invoke_endpoint

    client = target.client("sagemaker-runtime")
    return invoke_endpoint(client, name, body, content_type, accept, target.looked_in)


def add_parsers(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser(
        "serve", help="serve a model over HTTP with the SageMaker hosting contract and data capture"
    )
    add_model_choice(p, "serve")
    p.add_argument("--model-package-arn", help="a registered version by ARN")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to listen on; 0.0.0.0 accepts other machines (default: %(default)s)",
    )
    p.add_argument(
        "--port", type=port_number, default=None, help="default: $SAGEMAKER_BIND_TO_PORT or 8080"
    )
    p.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        help="server processes; one per core when nothing else runs there (default: %(default)s)",
    )
    p.add_argument(
        "--request-timeout",
        type=positive_float,
        default=10.0,
        help="seconds a client may send nothing while its request is arriving (default 10); "
        "one that stalls longer gets a 408",
    )
    p.add_argument(
        "--endpoint-name",
        default="churn-local",
        help="the name captured data and monitoring go by (default: %(default)s)",
    )
    p.add_argument(
        "--capture-percent",
        type=percentage,
        default=100.0,
        help="data capture sampling percentage; 0 turns capture off (default: %(default)s)",
    )
    p.add_argument("--capture-dir", help="default: $CHURN_HOME/capture")
    # A local endpoint's serving process: its model's container, as CreateModel gave it.
    p.add_argument("--model-container", help=argparse.SUPPRESS)
    add_home(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("predict", help="send rows to an endpoint and print the predictions")
    p.add_argument(
        "--endpoint",
        default="http://127.0.0.1:8080",
        help="the URL of a `churn serve` (default: %(default)s)",
    )
    p.add_argument(
        "--endpoint-name",
        help="an endpoint by name (InvokeEndpoint) on the target: the home's local endpoint "
        "of that name (churn deploy), or with --region a SageMaker endpoint on AWS",
    )
    p.add_argument("--file", help="CSV, .json or .jsonl file of rows")
    p.add_argument("--json", help='e.g. \'{"instances": [{"age": 40, ...}]}\'')
    p.add_argument("--csv", help="e.g. 40,5,100000,2,1 (features in schema order)")
    p.add_argument(
        "--customer-id",
        help="score this customer's features from the feature group's online store",
    )
    p.add_argument(
        "--feature-group",
        default=DEFAULT_GROUP,
        help="with --customer-id: the feature group holding its record (default: %(default)s)",
    )
    p.add_argument(
        "--accept",
        default="text/csv",
        help="the answer's type: text/csv, application/json or application/jsonlines "
        "(default: %(default)s)",
    )
    add_target(p)  # where --customer-id's record and --endpoint-name's endpoint are
    add_home(p)
    p.set_defaults(func=cmd_predict)
