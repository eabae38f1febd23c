"""/api/v1/harbors/: URL names ``api:harbors:<entity>-<action>``."""

from django.urls import path

from . import views

app_name = "harbors"

urlpatterns = [
    path("countries/", views.CountryListApi.as_view(), name="country-list"),
    path("regions/", views.HarborRegionListApi.as_view(), name="region-list"),
    path("regions/<str:code>/", views.HarborRegionDetailApi.as_view(), name="region-detail"),
    path("ports/", views.PortListApi.as_view(), name="port-list"),
]
