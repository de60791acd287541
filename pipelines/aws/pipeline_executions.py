"""SageMaker pipeline executions: the steps of one, for a command that follows it."""

from typing import Any, Dict, List, Optional


def execution_steps(client: Any, execution_arn: str) -> Optional[List[Dict[str, Any]]]:
    """ListPipelineExecutionSteps, oldest first; None where the endpoint lacks the call (a
    stand-in of SageMaker that answers the execution's status but not its steps)."""
    from botocore.exceptions import ClientError

    try:
        pages = client.get_paginator("list_pipeline_execution_steps").paginate(
            PipelineExecutionArn=execution_arn, SortOrder="Ascending"
        )
        return [s for page in pages for s in page["PipelineExecutionSteps"]]
    except ClientError:
        return None
