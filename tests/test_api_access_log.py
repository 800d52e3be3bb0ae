"""The access log never shows a conversation id (without API keys, the id is the access)."""

from __future__ import annotations

import logging
import logging.config

from api.access_log import REDACTED, RedactConversationIds, log_config


def _access_record(path: str) -> logging.LogRecord:
    # As uvicorn's httptools/h11 protocols log a request.
    return logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", path, "1.1", 200),
        None,
    )


def test_conversation_ids_are_redacted_from_paths_and_queries() -> None:
    redact = RedactConversationIds()
    for path in (
        "/v1/conversations/c_Xy2-abc_DEF123456789012345/followups",
        "/?conversation=c_Xy2-abc_DEF123456789012345",
    ):
        record = _access_record(path)
        assert redact.filter(record)
        message = record.getMessage()
        assert "c_Xy2" not in message and REDACTED in message
    record = _access_record("/v1/answers")
    redact.filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "GET /v1/answers HTTP/1.1" 200'


def test_the_server_log_config_applies_the_filter(capsys) -> None:  # type: ignore[no-untyped-def]
    access = logging.getLogger("uvicorn.access")
    saved = (access.handlers[:], access.propagate, access.level)
    try:
        logging.config.dictConfig(log_config())  # what `followup serve` hands uvicorn
        access.info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:1",
            "GET",
            "/v1/conversations/c_s3cret",
            "1.1",
            200,
        )
    finally:
        access.handlers, access.propagate = saved[0], saved[1]
        access.setLevel(saved[2])
    out = capsys.readouterr().out
    assert "c_s3cret" not in out and f"/v1/conversations/{REDACTED}" in out
