"""/api/v1/matching/: URL names ``api:matching:<entity>-<action>``."""

from django.urls import path

from . import views

app_name = "matching"

urlpatterns = [
    path("matches/", views.MatchListApi.as_view(), name="match-list"),
    path("matches/<int:pk>/", views.MatchDetailApi.as_view(), name="match-detail"),
    path("matches/<int:pk>/respond/", views.MatchRespondApi.as_view(), name="match-respond"),
    path("queue/", views.MatchQueueListApi.as_view(), name="queue-list"),
    path("queue/<int:pk>/", views.MatchQueueDetailApi.as_view(), name="queue-detail"),
    path("queue/<int:pk>/stage/", views.MatchStageSetApi.as_view(), name="queue-stage"),
    path("offers/<int:pk>/prospects/", views.ProspectListApi.as_view(), name="prospect-list"),
    path(
        "shipment-procedure/",
        views.ShipmentProcedureApi.as_view(),
        name="shipment-procedure",
    ),
    path("impact/", views.ImpactApi.as_view(), name="impact"),
]
