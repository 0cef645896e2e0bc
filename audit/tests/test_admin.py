import pytest

from audit.events import SecurityEventKind as K
from audit.models import SecurityEvent
from audit.services import record_security_event

pytestmark = pytest.mark.django_db


def test_audit_rows_are_read_only_even_for_superusers(client, django_user_model, user):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "x")
    client.force_login(admin)
    record_security_event(K.PASSWORD_CHANGED, actor=user)
    event = SecurityEvent.objects.get(kind=K.PASSWORD_CHANGED)
    for model in ("securityevent", "auditlogentry", "securityalert", "chainhead"):
        listing = client.get(f"/admin/audit/{model}/")
        assert listing.status_code == 200, model
        assert client.get(f"/admin/audit/{model}/add/").status_code == 403, model
    page = client.get(f"/admin/audit/securityevent/{event.pk}/change/")
    assert page.status_code == 200 and b"password.changed" in page.content
    assert client.post(f"/admin/audit/securityevent/{event.pk}/change/", {}).status_code == 403
    assert (
        client.post(f"/admin/audit/securityevent/{event.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert SecurityEvent.objects.filter(pk=event.pk).exists()


def test_domain_admin_pages_have_the_objects_audit_history(
    client, django_user_model, user, workspace
):
    from audit.context import acting_for
    from workflows.tests.factories import NOTES, make_workflow

    admin = django_user_model.objects.create_superuser("root", "root@example.com", "x")
    client.force_login(admin)
    with acting_for(user):
        workflow = make_workflow(user, workspace, NOTES)
        workflow.name = "Renamed in the audit"
        workflow.save()
    page = client.get(f"/admin/workflows/workflow/{workflow.pk}/auditlog/")
    assert page.status_code == 200
    assert b"Renamed in the audit" in page.content
    listing = client.get("/admin/workflows/workflow/")
    assert f"/admin/workflows/workflow/{workflow.pk}/auditlog/".encode() in listing.content
