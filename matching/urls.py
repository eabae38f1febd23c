from django.urls import path

from . import views

app_name = "matching"

urlpatterns = [
    path("shipment-procedure/", views.shipment_procedure_view, name="shipment-procedure"),
]

# The facilitator portal, mounted at /facilitate/ under the "facilitate" namespace.
facilitate_patterns = (
    [
        path("queue/", views.queue_view, name="queue"),
        path("matches/<int:match_id>/", views.match_detail_view, name="match-detail"),
        path(
            "offers/<int:offer_id>/prospects/", views.offer_prospects_view, name="offer-prospects"
        ),
        path("map/", views.map_view, name="map"),
        path("map/data.json", views.map_data_view, name="map-data"),
        path("impact/", views.impact_view, name="impact"),
        path("runs/", views.runs_view, name="runs"),
        path("runs/<int:run_id>/", views.run_detail_view, name="run-detail"),
        path("runs/<int:run_id>/progress.json", views.run_progress_view, name="run-progress"),
        path("workshops/", views.workshops_view, name="workshops"),
        path("workshops/new/", views.workshop_new_view, name="workshop-new"),
        path("workshops/<int:workshop_id>/", views.workshop_detail_view, name="workshop-detail"),
    ],
    "facilitate",
)
