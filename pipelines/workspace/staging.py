"""What a run reads, put where the twins read it: code bundles and tables in the home's store
under content-hashed keys, generated seed data, the schema's feature group."""

import hashlib
import json
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple

from pipelines.aws.code_upload import upload
from pipelines.aws.featurestore import ensure_feature_group
from pipelines.churn.feature_group import LOCAL_ROLE, feature_group_request, offline_store_root
from pipelines.churn.local_definition import LOCAL_BUCKET, PREFIX
from pipelines.errors import UserError
from pipelines.workspace.home import Home
from processing.churn_job import file_digest

# processing's table and recipe modules import pandas or numpy: they are imported in the
# functions that use them, so a command that reads no table starts about 0.4 s sooner.

DATA_FOLDER = "data"  # where stage_data puts a run's input, under the store's churn prefix


class Staging(object):
    def __init__(self, ws: Home) -> None:
        self.ws = ws

    def generated_data(self, rows: int, seed: int) -> str:
        """Seed-schema data under <home>/data, made once per (rows, seed)."""
        from pipelines.churn.datagen import write_csv

        path = self.ws.home / "data" / ("churn-%d-rows-seed-%d.csv" % (rows, seed))
        if not path.is_file():
            write_csv(rows, seed, path)  # published atomically, folder made as needed
        return str(path)

    def stage_code(self, bundles: Dict[str, Any]) -> None:
        """The code bundles into the store, as pipelines/aws/code_upload puts them into S3
        (through the S3 twin: the same calls)."""
        s3 = self.ws.session.client("s3")
        if not (self.ws.store.root / LOCAL_BUCKET).is_dir():
            s3.create_bucket(Bucket=LOCAL_BUCKET)
        upload(bundles, s3, LOCAL_BUCKET, PREFIX)

    def stage_data(
        self, data: str, folder: str = DATA_FOLDER, on_copy: Optional[Callable[[], Any]] = None
    ) -> str:
        """A local CSV goes into the store as exactly one object, keyed by a hash of its bytes
        (same data, same key, cache hits), and the run's input is that object alone: a file
        staged under another name never joins it. The copy is published atomically and checked
        against the source's size and hash, and an object already at the key is used only when
        it matches them too (a kill or a full disk during an older copy cannot leave a partial
        table that later runs train on). A folder of CSV files goes in as one prefix
        (_stage_folder). An s3:// URI must already be in the local store. `on_copy` is called
        before a copy (new data: what may overlap it, such as starting the job parent)."""
        store = self.ws.store
        if data.startswith("s3://"):
            if not store.objects(data):
                raise UserError(
                    "%s is not in the local store (%s); copy the data there or "
                    "pass a local CSV file" % (data, store.path(data))
                )
            return data
        source = Path(data)
        if source.is_dir():
            return self._stage_folder(source.resolve(), folder, on_copy)
        size, digest = file_digest(source)
        uri = "s3://%s/%s/%s/%s/%s" % (LOCAL_BUCKET, PREFIX, folder, digest[:16], source.name)
        self._stage_object(uri, source, (size, digest), on_copy)
        return uri

    def _stage_folder(
        self, source: Path, folder: str, on_copy: Optional[Callable[[], Any]] = None
    ) -> str:
        """A folder of CSV parts (every *.csv under it, as csv_files and the jobs select them)
        under one prefix, keyed by a hash of their names and contents, each part staged as a
        single file is: the same parts give the same prefix, and a prefix whose parts a kill
        interrupted is completed, never used in part, as every run stages before it starts.
        The run's input is the prefix, holding exactly these parts."""
        from processing.churn_io import csv_files

        parts = {
            Path(f).relative_to(source).as_posix(): Path(f)
            for f in csv_files(str(source), none_is_empty=True)
        }
        if not parts:
            raise UserError("%s holds no .csv file" % source)
        digests = {name: file_digest(path) for name, path in sorted(parts.items())}
        key = hashlib.sha256(json.dumps(sorted(digests.items())).encode()).hexdigest()
        label = source.name or "data"  # the root folder has no name
        prefix = "s3://%s/%s/%s/%s/%s/" % (LOCAL_BUCKET, PREFIX, folder, key[:16], label)
        for name, path in sorted(parts.items()):
            self._stage_object(prefix + name, path, digests[name], on_copy)
        store = self.ws.store
        stray = sorted(set(store.objects(prefix)) - set(parts))
        if stray:
            raise UserError(
                "the local store's copy of %s (%s) also holds %s, which the folder does not; "
                "delete %s and run again" % (source, prefix, ", ".join(stray), store.path(prefix))
            )
        return prefix

    def _stage_object(
        self,
        uri: str,
        source: Path,
        expected: Tuple[int, str],
        on_copy: Optional[Callable[[], Any]] = None,
    ) -> None:
        """`source` at `uri`, published atomically and checked against its (size, sha256); an
        object already there is kept only when it matches them too."""
        store = self.ws.store
        if store.exists(uri) and file_digest(store.file(uri)) == expected:
            return
        if on_copy is not None:
            on_copy()
        store.put_file(uri, source)
        if file_digest(store.file(uri)) != expected:
            raise UserError(
                "%s changed while it was being copied into the local store; stage it again "
                "once nothing writes to it" % source
            )

    def feature_group(
        self, schema: Any, name: str, ttl_days: Optional[int] = None
    ) -> Dict[str, Any]:
        """DescribeFeatureGroup of the schema's group in the local feature store, created when
        missing; a group of that name holding other features is refused."""
        request = feature_group_request(
            schema, name, offline_store_root(LOCAL_BUCKET, PREFIX), LOCAL_ROLE, ttl_days
        )
        return ensure_feature_group(self.ws.session.client("sagemaker"), request)
