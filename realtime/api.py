"""`GET /api/v3/ws/stats`: WebSocket connection statistics across every web process."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.scoping import Actor, workspaces_for
from realtime import stats


class StatsView(APIView):
    """Totals and per-process numbers for every living web process. Counts include everyone;
    rooms are listed by name only when they are in one of the caller's workspaces; staff see
    every subscribed group, and each process's host and pid."""

    @extend_schema(responses={200: dict})
    def get(self, request):
        if request.user.is_staff:
            return Response(stats.read_stats())
        actor = Actor.from_request(request)
        ids = workspaces_for(actor).values_list("pk", flat=True)
        prefixes = tuple(f"room.{pk}." for pk in ids)
        body = stats.read_stats(show_group=lambda name: name.startswith(prefixes))
        for process in body["processes"]:  # where servers run is for staff
            del process["host"], process["pid"]
        return Response(body)
