"""Package metadata for the churn SageMaker Pipelines template.

Dependency ranges follow the SageMaker images the jobs run in (sklearn 1.4-2 for processing,
xgboost 3.0-5 for training and serving): a model trained here must load there and back.
"""

from setuptools import find_packages, setup

REQUIRED = [
    "sagemaker>=2.257,<3",  # SDK v2: see docs/adr/0001-sagemaker-sdk-v2.md
    "boto3>=1.34,<2",
    "pandas>=2.0,<4",
    "numpy>=1.24,<3",
    "scikit-learn>=1.4,<2",
    "xgboost>=3.0,<3.1",  # the 3.0-5 image ships xgboost 3.0.x
    "great-expectations>=1.0,<2",
    "matplotlib>=3.7,<4",  # ROC / PR plots; the xgboost image ships matplotlib too
    "uvicorn[standard]>=0.30,<1",  # uvloop + httptools: several workers without a fixed delay
    "pyarrow>=14",  # Parquet: the Feature Store's offline store; processing jobs read it too
    "jsonata-python>=0.7,<0.8",  # JSONata in the Step Functions twin: docs/adr/0012
]

EXTRAS = {
    "test": [
        "pytest>=8,<10",
        "pytest-xdist>=3.6,<4",  # make test spreads the test files over the cores
        "moto[server]>=5.1,<6",  # a real HTTP stand-in for the AWS APIs, on 127.0.0.1
        "hypothesis>=6.100,<7",  # the hostile-input suites generate their requests
        "jsonschema>=4.18",  # the published schema-file JSON Schema, checked against the loader
        "statelint>=3.1,<4",  # the workflows' ASL, checked offline
        "cfn-lint>=1.0,<2",  # ships the Step Functions definition schema the workflows meet
        "nbclient>=0.10",
        "nbformat>=5.9",
        "ipykernel>=6.29",
        # churn ui's browser tests drive Debian's Chromium (`make browser`); Playwright's own
        # browser download is not used
        "playwright>=1.50,<2",
    ],
    # `make lint` / `make fmt`; rules in pyproject.toml.
    "lint": [
        "ruff>=0.17,<0.18",
        "import-linter>=2.16,<3",
        # Types (pyproject.toml's [tool.mypy] files): a minor release adds checks, so it is a
        # bump of its own, like ruff's
        "mypy>=2.4,<2.5",
    ],
}
# The CDK app (infra/): synthesized with Python and Node.js, no CDK CLI.
EXTRAS["infra"] = ["aws-cdk-lib==2.275.*", "constructs>=10,<11", "cdk-nag>=3.0,<4"]
EXTRAS["dev"] = EXTRAS["test"] + EXTRAS["lint"] + EXTRAS["infra"]

setup(
    name="churn-pipelines",
    version="0.1.0",
    description="SageMaker Pipelines project template for customer-churn prediction, "
    "with a Docker-free local runner",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.9",
    packages=find_packages(
        include=[
            "pipelines",
            "pipelines.*",
            "processing",
            "training",
            "evaluation",
            "inference",
            "infra",
        ]
    ),
    package_data={
        "processing": ["schemas/*.json", "requirements.txt"],
        "pipelines.ui": ["static/*"],
    },
    install_requires=REQUIRED,
    extras_require=EXTRAS,
    entry_points={
        "console_scripts": [
            "churn=pipelines.cli:main",
            "get-pipeline-definition=pipelines.get_pipeline_definition:entry_point",
            "run-pipeline=pipelines.run_pipeline:entry_point",
        ],
    },
)
