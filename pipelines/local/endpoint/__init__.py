"""One loopback endpoint serving every twin over its AWS wire protocol (docs/adr/0015):
unchanged boto3, the AWS CLI and the SageMaker Python SDK reach the home's twins with
`AWS_ENDPOINT_URL=http://127.0.0.1:<port>` and any credentials.

- models.py   the botocore service models: protocol, signing name, target prefix, REST routes
- routes.py   a request to its twin and operation (the credential scope, X-Amz-Target, the
              method and path against the requestUri templates; S3 by its signing name)
- inputs.py   the wire's parameters as boto3's keyword arguments (awsJson1_0/1_1, restJson1)
- outputs.py  a twin's answer in its protocol
- errors.py   refusals and the twins' ClientErrors as the JSON protocols write them
- wire.py     TwinsWire.handle: one request in, one answer out (S3 through the mounted S3Wire)
- server.py   EndpointServer: TwinsWire on 127.0.0.1, on daemon threads

No signature is checked: any credentials are accepted, hence loopback by default.
"""

from pipelines.local.endpoint.server import EndpointServer
from pipelines.local.endpoint.wire import SERVICES, TwinsWire

__all__ = ["SERVICES", "EndpointServer", "TwinsWire"]
