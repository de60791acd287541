"""What boto3 checks before it sends a request (types, required members, enums, lengths), with
botocore's own validator and service model: the twins refuse what boto3 would."""

_MODELS = {}


def check_parameters(service, operation, params):
    """Raises botocore's ParamValidationError, as a boto3 client does."""
    from botocore.exceptions import ParamValidationError
    from botocore.validate import ParamValidator

    model = _model(service).operation_model(operation)
    report = ParamValidator().validate(params, model.input_shape)
    if report.has_errors():
        raise ParamValidationError(report=report.generate_report())


def _model(service):
    if service not in _MODELS:
        import botocore.session

        _MODELS[service] = botocore.session.get_session().get_service_model(service)
    return _MODELS[service]
