"""The /realtime/ page: watch a workflow's runs live over the session-authenticated socket."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse_lazy


# DRF's session log-in page serves every user (the admin's only staff).
@login_required(login_url=reverse_lazy("rest_framework:login"))
def realtime_page(request):
    return render(request, "realtime/page.html", {"ws_path": "/api/v3/ws/ws"})
