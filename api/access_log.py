"""The server's access log, with conversation ids redacted.

A conversation id is the only access control when no API keys are set (anyone who has it can
read the conversation), so it must not reach log files: the paths
``/v1/conversations/<id>...`` and the chat page's ``?conversation=<id>`` are logged with the
id replaced. Everything else of uvicorn's access line stays as it is.

Example:
    >>> uvicorn.run(app, log_config=log_config())
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

# api.store.new_conversation_id: "c_" and 24 URL-safe characters; any length is redacted.
_CONVERSATION_ID = re.compile(r"\bc_[A-Za-z0-9_-]+")
REDACTED = "c_[redacted]"
# uvicorn's access record: (client address, method, path with query, HTTP version, status).
_PATH_ARG = 2


class RedactConversationIds(logging.Filter):
    """Replaces conversation ids in the path of uvicorn access records."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) > _PATH_ARG:
            path = args[_PATH_ARG]
            if isinstance(path, str):
                path = _CONVERSATION_ID.sub(REDACTED, path)
                record.args = (*args[:_PATH_ARG], path, *args[_PATH_ARG + 1 :])
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's logging configuration, with the access log's ids redacted."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_ids"] = {"()": RedactConversationIds}
    config["handlers"]["access"]["filters"] = ["redact_ids"]
    return config
