"""`churn ui`: the local twin of SageMaker Studio's pipeline, registry and monitoring views.

server      the ASGI application (routes, the Host and CSRF checks, server-sent events, store
            objects) and `serve`, which runs it under uvicorn on 127.0.0.1
context     what every page reads (UI): the workspace, the CSRF token, the host names answered
executions  the execution list, an execution's graph and steps, a step's request, objects, log
graph       the pipeline graph laid out and drawn as SVG, steps coloured by status
registry    model versions, one version's report, two side by side, approval
monitoring  drift over time, violations, baseline against captured traffic
html        markup escaped by construction, the page frame
static/     the stylesheet and the script (no build step)
"""
