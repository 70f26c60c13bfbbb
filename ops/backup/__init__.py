"""Backups: export, catalog, verify, GFS retention, restore and the restore drill.

The public API mirrors the tasks (alembic style): ``export``, ``list_backups``,
``verify``, ``prune`` and ``drill``. The modules import only the standard
library and ``ops`` at load time (psycopg is imported where it is used).
"""

from __future__ import annotations

# The functions shadow their modules of the same name on purpose: ``ops.backup.verify``
# is the function; the module stays reachable through ``sys.modules``.
from ops.backup.catalog import list_backups
from ops.backup.drill import drill
from ops.backup.export import export
from ops.backup.restore import create_database, drop_database, restore_backup
from ops.backup.retention import prune
from ops.backup.storage import restore_storage
from ops.backup.verify import verify

__all__ = [
    "create_database",
    "drill",
    "drop_database",
    "export",
    "list_backups",
    "prune",
    "restore_backup",
    "restore_storage",
    "verify",
]
