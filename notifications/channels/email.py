"""Email through Django's email backend (SMTP in production, from EMAIL_URL / EMAIL_HOST...):
a text body and, when there is one, an HTML alternative; every email carries an opt-out
link (in the body and as List-Unsubscribe)."""

import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from notifications.channels.base import DeliveryResult, channel_settings
from notifications.errors import PermanentSendError, TransientSendError
from notifications.optout import opt_out_url


def build(delivery) -> EmailMultiAlternatives:
    config, _ = channel_settings(delivery)
    notification = delivery.notification
    link = opt_out_url(workspace_id=delivery.workspace_id, address=delivery.recipient)
    text = f"{notification.message}\n\n--\nStop these emails: {link}\n"
    email = EmailMultiAlternatives(
        subject=notification.subject or "Docchain notification",
        body=text,
        from_email=config.get("from_email") or settings.DEFAULT_FROM_EMAIL,
        to=[delivery.recipient],
        headers={
            "List-Unsubscribe": f"<{link}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "X-Docchain-Delivery": str(delivery.pk),
        },
    )
    if notification.html:
        footer = f'<p style="font-size:small"><a href="{link}">Stop these emails</a></p>'
        html = f"{notification.html}{footer}"
        email.attach_alternative(html, "text/html")
    return email


def _smtp_error(exc: Exception):
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        permanent = all(code >= 500 for code in codes)
        error = PermanentSendError if permanent else TransientSendError
        return error(
            "The mail server refused the recipient.",
            code="recipient_refused",
            status=codes[0] if codes else None,
            response=str(exc.recipients),
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        error = PermanentSendError if exc.smtp_code >= 500 else TransientSendError
        return error(
            f"The mail server answered {exc.smtp_code}.",
            code=f"smtp_{exc.smtp_code}",
            status=exc.smtp_code,
            response=str(exc.smtp_error),
        )
    return TransientSendError(f"{type(exc).__name__}: {exc}", code="smtp_unavailable")


def send(delivery) -> DeliveryResult:
    message = build(delivery)
    try:
        with get_connection(fail_silently=False) as connection:
            sent = connection.send_messages([message])
    except (smtplib.SMTPException, OSError) as exc:
        raise _smtp_error(exc) from exc
    if not sent:
        raise TransientSendError("The email backend sent nothing.", code="not_sent")
    return DeliveryResult(250, "accepted", message.extra_headers.get("Message-ID", ""))
