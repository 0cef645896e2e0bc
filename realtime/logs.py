"""Keep WebSocket credentials out of the logs.

Browsers cannot set headers on a WebSocket, so tokens and keys often travel in the query string
(`?token=`, `?api_key=`), and the ASGI server logs every handshake's path with its query.
"""

import logging
import re

CREDENTIAL_RE = re.compile(r"((?:^|[?&\s])(?:token|api_key)=)[^&\s\"']+")
SERVER_LOGGERS = ("uvicorn.error", "uvicorn.access", "daphne.server", "daphne.http_protocol")


def redact(text: str) -> str:
    return CREDENTIAL_RE.sub(r"\1[redacted]", text)


class RedactCredentials(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def install() -> None:
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactCredentials) for f in logger.filters):
            logger.addFilter(RedactCredentials())
