"""SageMaker Feature Store's twin, following its documented rules (docs/feature-store.md).

store.py     LocalFeatureStore: one home's feature groups, online and offline stores, and
             the two clients shaped like boto3's (`sagemaker` control plane calls,
             `sagemaker-featurestore-runtime`), so code written against one runs on both
catalog.py   the control plane: feature groups' definitions in the home's database
records.py   records: PutRecord's, GetRecord's and DeleteRecord's checks and writes, online
             and offline in one transaction
groups.py    CreateFeatureGroup's checks and the group descriptions
online.py    the online store in SQLite: the newer event time wins, deletes, TTL
offline.py   the offline store: Parquet in SageMaker's S3 layout, in the local store
server.py    featurestore-runtime's REST-JSON wire protocol on 127.0.0.1, for jobs that
             call it through boto3 (AWS_ENDPOINT_URL_SAGEMAKER_FEATURESTORE_RUNTIME)
errors.py    SageMaker's errors as botocore raises them (ClientError with its codes)
"""
