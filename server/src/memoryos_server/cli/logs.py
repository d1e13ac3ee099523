"""The logging of `memoryos serve`: one configuration for the server and every worker process.

Everything goes to standard error, one line per record (one JSON object per line when
``MEMORYOS_LOG_JSON`` is on). The ``memoryos`` loggers speak at ``MEMORYOS_LOG_LEVEL`` (INFO by
default), so the console email backend's messages, one-time codes included, reach the
terminal of whoever runs a local server. uvicorn's own access log is off: the request-context
middleware writes one that keeps the path but only the names of query parameters, since
values such as ``link_token``, ``code`` and ``state`` are secrets.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from memoryos_server.request_context import peek_request_id
from memoryos_server.settings import Settings

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
# (uvicorn adds ``color_message``, its message with terminal colours.)
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",
}
_PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class RequestIdFilter(logging.Filter):
    """Stamps each record with the id of the request it was logged in ("-" outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = peek_request_id() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request id, extras, traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD_ATTRIBUTES and name not in entry:
                entry[name] = value
        if entry.get("request_id") == "-":
            del entry["request_id"]
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def logging_config(settings: Settings) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dictionary; uvicorn applies it in each worker process too."""
    level = logging.getLevelName(settings.log_level.upper())
    if not isinstance(level, int):
        raise ValueError(f"MEMORYOS_LOG_LEVEL={settings.log_level!r} is not a logging level")
    # The console backend exists to show the message; a quieter level must not swallow the codes.
    email_level = min(level, logging.INFO) if settings.email_backend == "console" else level
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": f"{__name__}.RequestIdFilter"}},
        "formatters": {
            "plain": {"format": _PLAIN_FORMAT},
            "json": {"()": f"{__name__}.JsonFormatter"},
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "json" if settings.log_json else "plain",
                "filters": ["request_id"],
            }
        },
        # Other libraries: warnings and worse only. Ours and the server's: the chosen level.
        "root": {"handlers": ["stderr"], "level": "WARNING"},
        "loggers": {
            "memoryos": {"level": level},
            "memoryos.email": {"level": email_level},
            "memoryos_server": {"level": level},
            "uvicorn": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.error": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False},
        },
    }
