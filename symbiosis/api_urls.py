"""/api/: the versioned partner API, its OpenAPI schema and its Swagger UI (served offline from
drf-spectacular-sidecar, with the init script as a file so that the page runs under the CSP)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny

v1 = (
    [
        path("listings/", include("listings.api.urls")),
        path("matching/", include("matching.api.urls")),
        path("harbors/", include("harbors.api.urls")),
    ],
    "api",
)

urlpatterns = [
    path("v1/", include(v1)),
    path(
        "schema/",
        SpectacularAPIView.as_view(permission_classes=[AllowAny], authentication_classes=[]),
        name="api-schema",
    ),
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", permission_classes=[AllowAny]),
        name="api-docs",
    ),
]
