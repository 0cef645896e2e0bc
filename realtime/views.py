"""The /realtime/ page: watch a workflow's runs live over the session-authenticated socket."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def realtime_page(request):
    return render(request, "realtime/page.html", {"ws_path": "/api/v3/ws/ws"})
