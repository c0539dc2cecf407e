"""Running a migration test: the database back at an older schema, then forward again."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.apps.registry import Apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

Node = tuple[str, str | None]


@contextmanager
def migrated_back(targets: list[Node], state: list[Node] | None = None) -> Iterator[Apps]:
    """The database migrated back to `targets`, with the models of `state` (the targets by
    default) as they were then; forward to the latest migrations afterwards."""
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    executor.migrate(targets)
    try:
        yield MigrationExecutor(connection).loader.project_state(state or targets).apps
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(leaves)


def migrate_forward() -> None:
    """Apply every migration not applied yet, as `manage.py migrate` would."""
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
