"""The SQLite database under a home (registry.db) that the registry, the step cache and hosting
share: one file, so a registration and the cache entries of one execution live side by side,
and SQLite's locking lets several runs on one home write at once (docs/adr/0004)."""

import sqlite3
from pathlib import Path
from typing import Union

SCHEMA = """
CREATE TABLE IF NOT EXISTS model_package_groups (
    name TEXT PRIMARY KEY, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS model_package_group_requests (
    name TEXT PRIMARY KEY, request TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS model_packages (
    arn TEXT PRIMARY KEY, group_name TEXT NOT NULL, version INTEGER NOT NULL,
    approval_status TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL,
    pipeline_execution TEXT, request TEXT NOT NULL, approval_description TEXT,
    UNIQUE (group_name, version));
CREATE TABLE IF NOT EXISTS models (
    name TEXT PRIMARY KEY, created REAL NOT NULL, request TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS step_cache (
    pipeline TEXT NOT NULL, step TEXT NOT NULL, cache_key TEXT NOT NULL,
    execution_id TEXT NOT NULL, created REAL NOT NULL, properties TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS step_cache_key ON step_cache (pipeline, step, cache_key);
CREATE TABLE IF NOT EXISTS endpoint_configs (
    name TEXT PRIMARY KEY, created REAL NOT NULL, request TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS endpoints (
    name TEXT PRIMARY KEY, config TEXT NOT NULL, status TEXT NOT NULL, created REAL NOT NULL,
    updated REAL NOT NULL, failure TEXT, serving TEXT, pending TEXT, pending_config TEXT);
CREATE TABLE IF NOT EXISTS monitoring_schedules (
    name TEXT PRIMARY KEY, created REAL NOT NULL, updated REAL NOT NULL, request TEXT NOT NULL);
-- AddTags / ListTags / DeleteTags, by resource ARN. Added after the others: a home made before
-- it gets the table on its next connection (CREATE TABLE IF NOT EXISTS is the migration).
CREATE TABLE IF NOT EXISTS tags (
    arn TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, position INTEGER NOT NULL,
    PRIMARY KEY (arn, key));
-- CreatePipeline / UpdatePipeline: one row per version of a pipeline (the request as JSON,
-- its definition inline); StartPipelineExecution's ClientRequestToken, per pipeline.
CREATE TABLE IF NOT EXISTS pipeline_versions (
    name TEXT NOT NULL, version INTEGER NOT NULL, created REAL NOT NULL, request TEXT NOT NULL,
    PRIMARY KEY (name, version));
CREATE TABLE IF NOT EXISTS pipeline_execution_tokens (
    name TEXT NOT NULL, token TEXT NOT NULL, arn TEXT NOT NULL, PRIMARY KEY (name, token));
"""


def connect(home: Union[str, Path]) -> sqlite3.Connection:
    Path(home).mkdir(parents=True, exist_ok=True)
    # One connection per thread (backend.py); closing them all at the end happens in one.
    db = sqlite3.connect(str(Path(home) / "registry.db"), timeout=30, check_same_thread=False)
    db.row_factory = sqlite3.Row
    db.executescript(SCHEMA)
    return db
