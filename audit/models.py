"""Audit records: the change log (django-auditlog's swappable log entry), security events and
the alerts rules raise from them. Users and workspaces are string references: `audit` imports
no domain app, so every app may write to it.

Every change-log row and security event is a link of a hash chain (`audit.chain`): one chain
per workspace, one per user for account events without a workspace.
"""

from auditlog.models import AbstractLogEntry, LogEntryManager
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.utils import timezone

from audit.events import AlertStatus, SecurityEventKind, Severity


class ChainLink(models.Model):
    """The fields that make a row a link of its chain. Set by `audit.chain.link` under the
    chain's lock; never edited afterwards."""

    chain = models.CharField(max_length=40, editable=False)
    seq = models.BigIntegerField(editable=False)
    prev_hash = models.CharField(max_length=64, editable=False)
    hash = models.CharField(max_length=64, editable=False)

    class Meta:
        abstract = True

    def canonical(self) -> dict:
        """The content the row's hash covers (every field but the hash itself)."""
        raise NotImplementedError


class ChainHead(models.Model):
    """The last link of each chain (so the deletion of the newest rows shows), and the signed
    checkpoint retention leaves where it deleted the oldest ones."""

    chain = models.CharField(max_length=40, primary_key=True)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)
    # The hash before `hash`: how the one-statement append hands the new row its prev_hash.
    prev_hash = models.CharField(max_length=64, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)
    checkpoint_seq = models.BigIntegerField(default=0)
    checkpoint_hash = models.CharField(max_length=64, blank=True)
    checkpoint_signature = models.CharField(max_length=64, blank=True)
    checkpoint_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["chain"]

    def __str__(self) -> str:
        return f"{self.chain} @ {self.seq}"


class AuditLogEntryManager(LogEntryManager):
    """auditlog's manager, filling in the workspace of the object logged."""

    def log_create(self, instance, force_log: bool = False, **kwargs):
        from audit.registry import options_for, workspace_id_of

        if not settings.AUDIT_ENABLED:
            return None

        options = options_for(instance)
        kwargs.setdefault("workspace_id", workspace_id_of(instance))
        if options.object_pk is not None:
            kwargs["object_pk"] = str(options.object_pk(instance))
        if (
            options.changes_on_create is not None
            and kwargs.get("action") == self.model.Action.CREATE
        ):
            kwargs["changes"] = options.changes_on_create(instance)
        return super().log_create(instance, force_log=force_log, **kwargs)

    def log_m2m_changes(self, changed_queryset, instance, operation, field_name, **kwargs):
        from audit.registry import options_for, workspace_id_of

        if not settings.AUDIT_ENABLED:
            return None

        options = options_for(instance)
        kwargs.setdefault("workspace_id", workspace_id_of(instance))
        if options.object_pk is not None:
            kwargs["object_pk"] = str(options.object_pk(instance))
        return super().log_m2m_changes(changed_queryset, instance, operation, field_name, **kwargs)


class AuditLogEntry(ChainLink, AbstractLogEntry):
    """django-auditlog's log entry (AUDITLOG_LOGENTRY_MODEL) with the workspace it belongs to
    and its place in that workspace's chain."""

    workspace = models.ForeignKey(
        "accounts.Workspace",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,  # the log outlives what it describes
        db_constraint=False,
        related_name="+",
    )
    # auditlog's actor is SET_NULL: deleting a user would rewrite hashed rows. Ours is kept.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        blank=True,
        null=True,
        related_name="+",
        verbose_name="actor",
    )

    objects = AuditLogEntryManager()

    class Meta(AbstractLogEntry.Meta):
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"
        ordering = ["-timestamp", "-id"]
        indexes = [
            models.Index(fields=["workspace", "-timestamp"], name="audit_log_ws_time"),
            models.Index(fields=["actor", "-timestamp"], name="audit_log_actor_time"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["chain", "seq"], name="audit_log_chain_seq"),
        ]

    def __str__(self) -> str:
        return super().__str__()

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        if self.action == self.Action.DELETE:
            from audit.rules import on_change_safely

            on_change_safely(self)

    def _save_table(
        self,
        raw=False,
        cls=None,
        force_insert=False,
        force_update=False,
        using=None,
        update_fields=None,
    ):
        # Linked here, after pre_save: `audit.context.fill_actor` fills the actor and the
        # remote address in a pre_save receiver, and the hash must cover them.
        if not (self._state.adding and not self.hash):
            return super()._save_table(raw, cls, force_insert, force_update, using, update_fields)
        from audit import chain

        if self.actor_id is None:  # not set by acting_for: the request's user
            from audit.context import current_user, request_remote_addr

            user = current_user()
            if user is not None:
                self.actor, self.actor_email = user, getattr(user, "email", None)
                self.remote_addr = self.remote_addr or request_remote_addr()
        if not self.chain:
            self.chain = chain.chain_for(
                workspace_id=self.workspace_id, user_id=self.actor_id or self._subject_user()
            )
        if chain.insert_linked(self):
            return False  # inserted (not updated)
        # The chain's first row: linked under its lock, a transaction lock, so a savepoint.
        with transaction.atomic(using=using):
            chain.link(self)
            return super()._save_table(raw, cls, force_insert, force_update, using, update_fields)

    def _subject_user(self) -> int | None:
        """A change to a user account with no one signed in (registration): that user's
        chain, not the anonymous one."""
        content_type = ContentType.objects.get_for_id(self.content_type_id)
        if content_type.model_class() is get_user_model() and self.object_id:
            return self.object_id
        return None

    def canonical(self) -> dict:
        content_type = ContentType.objects.get_for_id(self.content_type_id)  # cached
        return {
            "chain": self.chain,
            "seq": self.seq,
            "table": "log",
            "model": f"{content_type.app_label}.{content_type.model}",
            "object_pk": self.object_pk,
            "object_repr": self.object_repr,
            "action": self.action,
            "changes": self.changes,
            "changes_text": self.changes_text,
            "actor": self.actor_id,
            "actor_email": self.actor_email,
            "remote_addr": self.remote_addr,
            "timestamp": self.timestamp,
            "additional_data": self.additional_data,
            "serialized_data": self.serialized_data,
            "cid": self.cid,
            "workspace": self.workspace_id,
        }


class SecurityEvent(ChainLink):
    """One security event: who (the actor, or the username tried), whose account, from where,
    in which workspace, how severe. High-volume kinds are one row per window with a `count`."""

    kind = models.CharField(max_length=40, choices=SecurityEventKind.choices, db_index=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    # The account the event concerns: the actor, or the account a username tried names.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    username = models.CharField(max_length=150, blank=True)
    workspace = models.ForeignKey(
        "accounts.Workspace",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # How many times a high-volume kind happened in the row's window. A tally kept after the
    # row is written, so it is outside the hash (the row's existence and window are not).
    count = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "-created_at"], name="audit_event_ws_time"),
            models.Index(fields=["user", "-created_at"], name="audit_event_user_time"),
            models.Index(fields=["ip", "kind", "-created_at"], name="audit_event_ip_kind"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["chain", "seq"], name="audit_event_chain_seq"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} ({self.severity}) at {self.created_at:%Y-%m-%d %H:%M:%S}"

    def canonical(self) -> dict:
        return {
            "chain": self.chain,
            "seq": self.seq,
            "table": "event",
            "kind": self.kind,
            "severity": self.severity,
            "actor": self.actor_id,
            "user": self.user_id,
            "username": self.username,
            "workspace": self.workspace_id,
            "ip": self.ip,
            "user_agent": self.user_agent,
            "request_id": self.request_id,
            "details": self.details,
            "created_at": self.created_at,
        }


class SecurityAlert(models.Model):
    """What a threat rule (`audit.rules`) concluded from events, with its evidence."""

    rule = models.CharField(max_length=40, db_index=True)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    title = models.CharField(max_length=200)
    evidence = models.JSONField(default=dict, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    workspace = models.ForeignKey(
        "accounts.Workspace", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    ip = models.GenericIPAddressField(null=True, blank=True)
    # The same rule for the same subject raises one alert per window, not one per event.
    dedup_key = models.CharField(max_length=200, unique=True)
    status = models.CharField(
        max_length=12, choices=AlertStatus.choices, default=AlertStatus.OPEN, db_index=True
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.title} ({self.severity}, {self.status})"
