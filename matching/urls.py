from django.urls import path

from . import views

app_name = "matching"

urlpatterns = [
    path("shipment-procedure/", views.shipment_procedure_view, name="shipment-procedure"),
]
