"""The churn template's infrastructure as code: a CDK v2 app (app.py), one stack per concern.
Synthesized with Python alone (`make synth`); deployed with `npx aws-cdk deploy`. Nothing in
`pipelines` imports it."""
