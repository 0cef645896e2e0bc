"""Analytics keeps one thing of its own: reports (a summary and insights frozen at a time)."""

from django.conf import settings
from django.db import models


class ReportKind(models.TextChoices):
    WEEKLY = "weekly", "Weekly (beat job)"
    ON_DEMAND = "on_demand", "On demand"


class Report(models.Model):
    workspace = models.ForeignKey(
        "accounts.Workspace", on_delete=models.CASCADE, related_name="analytics_reports"
    )
    kind = models.CharField(max_length=10, choices=ReportKind.choices)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    summary = models.JSONField()
    insights = models.JSONField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "-created_at"])]
        constraints = [
            # The beat job may run twice for a week; it makes one report.
            models.UniqueConstraint(
                fields=["workspace", "period_start"],
                condition=models.Q(kind="weekly"),
                name="one_weekly_report_per_week",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} report of {self.workspace_id} from {self.period_start:%Y-%m-%d}"
