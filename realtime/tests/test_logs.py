import logging

from realtime.logs import redact


def test_credentials_in_handshake_paths_are_redacted(caplog):
    path = "/api/v3/ws/ws?connection_id=c1&token=eyJhbGciOi.abc.def&user_id=1"
    with caplog.at_level(logging.INFO, logger="uvicorn.error"):
        logging.getLogger("uvicorn.error").info('%s - "WebSocket %s" [accepted]', "1.2.3.4", path)
    (record,) = caplog.records
    message = record.getMessage()
    # (litellm, once imported, masks "token=..." its own way; either way it is gone.)
    assert "eyJhbGciOi" not in message
    assert "connection_id=c1&" in message and "&user_id=1" in message


def test_redact_leaves_other_parameters_alone():
    assert redact("/ws?api_key=abc.def") == "/ws?api_key=[redacted]"
    assert redact("/ws?tokens=1&x_token=2") == "/ws?tokens=1&x_token=2"
