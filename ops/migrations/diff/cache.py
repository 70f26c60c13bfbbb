"""The migrated template's inspection, and its cache on disk.

The diff only reads the migrated catalog. The first run inspects the template
itself (one short read-only session, closed before anything clones the
template) and caches that inspection, with our catalog inventory of it, in
``<state_dir>/diff-cache/<hash>.pickle``, keyed by the template's hash, its
oid (a rebuilt template is another one), the cluster and the engine's
version; a cache that does not match, or does not load, is ignored. Later runs
read the cache, so no session touches the template and the self-check's clone
starts at once, while the target is inspected.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ops.migrations.diff.catalog import inventory
from ops.migrations.diff.engine import inspect
from ops.migrations.diff.shadow import TEMPLATE_PREFIX, template_session

if TYPE_CHECKING:
    from ops.config import Config
    from ops.pg.cluster import Cluster


@dataclass
class TemplateInspection:
    """The migrated template as the engine sees it, and as our inventory does.
    ``pickled`` is the inspector as it was before any diff used it (what the cache stores)."""

    inspector: Any
    inventory: dict[str, str]
    pickled: bytes = b""


def inspect_template(
    cluster: Cluster, template: str, schemas: tuple[str, ...] = (), *, for_cache: bool = False
) -> TemplateInspection:
    """Inspect the migrated template in place (read-only: it is not changed);
    ``for_cache`` also pickles it, before any diff uses it."""
    with template_session(cluster, template) as conn:
        inspector = inspect(conn, schemas)
        found = inventory(conn, schemas)
    return TemplateInspection(inspector, found, _pickle_inspection(inspector, found) if for_cache else b"")


# Bump when what the cache holds changes shape.
_CACHE_FORMAT = 1


def inspection_cache_path(cfg: Config, template: str, schemas: tuple[str, ...] = ()) -> Path:
    """``<state_dir>/diff-cache/<template hash>[-<schemas hash>].pickle``."""
    import hashlib

    name = template.removeprefix(TEMPLATE_PREFIX)
    if schemas:
        name += "-" + hashlib.sha256("\0".join(sorted(set(schemas))).encode()).hexdigest()[:8]
    return cfg.state_dir / "diff-cache" / f"{name}.pickle"


def _cache_key(cluster: Cluster, template: str, schemas: tuple[str, ...]) -> dict[str, Any] | None:
    """What a cached inspection must have been taken of: this very template
    database (a rebuilt one has a new oid) on this very cluster, by this
    version of the engine, for these schemas. Read from the maintenance
    database: nothing connects to the template."""
    from importlib.metadata import version

    with cluster.connection() as conn:
        row = conn.execute(
            "select d.oid::bigint, (select system_identifier from pg_control_system()),"
            " current_setting('server_version') from pg_database d where d.datname = %s",
            (template,),
        ).fetchone()
    if row is None:
        return None
    oid, system, server = row
    return {
        "format": _CACHE_FORMAT,
        "template": template,
        "oid": oid,
        "cluster": str(system),
        "server": server,
        "results": version("results"),
        "schemas": sorted(set(schemas)),
    }


def load_template_inspection(
    cfg: Config, cluster: Cluster, template: str, schemas: tuple[str, ...] = ()
) -> TemplateInspection | None:
    """The cached inspection of ``template``, or None: missing, taken of
    another template (or another build of it), or unreadable in any way.
    The file is a pickle in the project's own state directory, written by
    ``save_template_inspection``; its header is checked before the rest is read."""
    import pickle

    path = inspection_cache_path(cfg, template, schemas)
    try:
        with path.open("rb") as stream:
            header = pickle.load(stream)
            if header != _cache_key(cluster, template, schemas):
                return None
            inspector, found = pickle.load(stream)
    except Exception:  # missing, truncated, corrupt, from another version: inspect the template instead
        return None
    if not isinstance(found, dict) or type(inspector).__name__ != "PostgreSQL":
        return None
    return TemplateInspection(inspector, found)


def save_template_inspection(
    cfg: Config, cluster: Cluster, template: str, schemas: tuple[str, ...], migrated: TemplateInspection
) -> None:
    """Cache ``migrated`` for ``template`` (written whole, then renamed into
    place); the caches of other templates go. Best effort: a cache that cannot
    be written only means the next run inspects the template again."""
    import os
    import pickle

    if not migrated.pickled:
        return
    path = inspection_cache_path(cfg, template, schemas)
    try:
        key = _cache_key(cluster, template, schemas)
    except Exception:  # the run's result does not depend on the cache: never fail it over one
        return
    if key is None:
        return
    keep = template.removeprefix(TEMPLATE_PREFIX)
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("wb") as stream:
            pickle.dump(key, stream, protocol=pickle.HIGHEST_PROTOCOL)
            stream.write(migrated.pickled)
        os.replace(partial, path)
        for stale in path.parent.glob("*.pickle"):
            if not stale.name.startswith(keep):
                stale.unlink(missing_ok=True)
    except OSError:
        partial.unlink(missing_ok=True)


def _pickle_inspection(inspector: Any, found: dict[str, str]) -> bytes:
    """The inspector without its cursor (which cannot be pickled, and which a diff does not use), and the inventory."""
    import copy
    import pickle

    detached = copy.copy(inspector)
    detached.c = None
    return pickle.dumps((detached, found), protocol=pickle.HIGHEST_PROTOCOL)
