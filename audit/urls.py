from django.urls import path

from audit import api

event_list = api.SecurityEventViewSet.as_view({"get": "list"})
event_detail = api.SecurityEventViewSet.as_view({"get": "retrieve"})
alert_list = api.SecurityAlertViewSet.as_view({"get": "list"})
alert_detail = api.SecurityAlertViewSet.as_view({"get": "retrieve"})
alert_acknowledge = api.SecurityAlertViewSet.as_view({"post": "acknowledge"})

urlpatterns = [
    path("security/audit/logs", api.AuditLogView.as_view(), name="audit-logs"),
    path("security/audit/export", api.AuditExportView.as_view(), name="audit-export"),
    path("security/events", event_list, name="security-events"),
    path("security/events/<int:pk>", event_detail, name="security-event"),
    path("security/alerts", alert_list, name="security-alerts"),
    path("security/alerts/<int:pk>", alert_detail, name="security-alert"),
    path(
        "security/alerts/<int:pk>/acknowledge", alert_acknowledge, name="security-alert-acknowledge"
    ),
    path(
        "security/compliance/report", api.ComplianceReportView.as_view(), name="compliance-report"
    ),
    path("security/activity", api.ActivityView.as_view(), name="security-activity"),
]
