"""JSON logs on stdout, one object per line, each carrying the current request id."""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# Connection errors can quote a URL; never let a password reach the log.
_URL_PASSWORD = re.compile(r"(?P<prefix>[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]*@", re.IGNORECASE)
# Fields every record has, plus uvicorn's ANSI-coloured duplicate of the message.
_SKIPPED_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message", "request_id"}


def redact(text: str) -> str:
    return _URL_PASSWORD.sub(r"\g<prefix>***@", text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            doc["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _SKIPPED_ATTRS and not key.startswith("_"):
                doc[key] = value
        if record.exc_info:
            doc["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(doc, default=str)


def configure_logging(level: int = logging.INFO) -> None:
    """Send the app's, psycopg's and uvicorn's logs to stdout as JSON lines."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    # uvicorn configures its own stderr handlers before importing the app; route them through ours.
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    # app.access writes one line per request with its id; uvicorn's own access line would repeat it.
    logging.getLogger("uvicorn.access").handlers = []
    logging.getLogger("uvicorn.access").propagate = False
    # The pool logs each connection it adds at INFO; keep its warnings only.
    logging.getLogger("psycopg.pool").setLevel(logging.WARNING)
