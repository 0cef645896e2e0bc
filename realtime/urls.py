from django.urls import path

from realtime import api

urlpatterns = [
    path("ws/stats", api.StatsView.as_view(), name="ws-stats"),
]
