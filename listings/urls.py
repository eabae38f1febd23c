"""The company portal, sign-up and the verification page; mounted at "" under i18n_patterns."""

from django.urls import path

from . import views

app_name = "listings"


def _listing_urls(kind: str, prefix: str) -> list:
    extra = {"kind": kind}
    return [
        path(f"{prefix}/", views.listing_list_view, extra, name=f"{kind}-list"),
        path(f"{prefix}/new/", views.listing_create_view, extra, name=f"{kind}-create"),
        path(f"{prefix}/<int:pk>/", views.listing_detail_view, extra, name=f"{kind}-detail"),
        path(f"{prefix}/<int:pk>/edit/", views.listing_edit_view, extra, name=f"{kind}-edit"),
        path(
            f"{prefix}/<int:pk>/publish/",
            views.listing_publish_view,
            extra,
            name=f"{kind}-publish",
        ),
        path(f"{prefix}/<int:pk>/pause/", views.listing_pause_view, extra, name=f"{kind}-pause"),
        path(f"{prefix}/<int:pk>/close/", views.listing_close_view, extra, name=f"{kind}-close"),
    ]


urlpatterns = [
    path("accounts/signup/", views.signup_view, name="signup"),
    path("dashboard/", views.dashboard_view, name="dashboard"),
    *_listing_urls("offer", "offers"),
    *_listing_urls("demand", "demands"),
    path("sites/", views.site_list_view, name="site-list"),
    path("sites/new/", views.site_create_view, name="site-create"),
    path("upload/", views.upload_view, name="upload"),
    path("upload/confirm/", views.upload_confirm_view, name="upload-confirm"),
    path("upload/cancel/", views.upload_cancel_view, name="upload-cancel"),
    path("matches/", views.match_list_view, name="match-list"),
    path("matches/<int:pk>/", views.match_detail_view, name="match-detail"),
    path("matches/<int:pk>/respond/", views.match_respond_view, name="match-respond"),
    path("organisation/", views.organization_view, name="organization"),
    path(
        "organisation/export.json",
        views.organization_export_view,
        {"fmt": "json"},
        name="organization-export-json",
    ),
    path(
        "organisation/export.csv.zip",
        views.organization_export_view,
        {"fmt": "csv"},
        name="organization-export-csv",
    ),
    path("organisation/close/", views.organization_close_view, name="organization-close"),
    path("organisations/pending/", views.organization_pending_view, name="organization-pending"),
    path(
        "organisations/<int:pk>/verify/",
        views.organization_verify_view,
        name="organization-verify",
    ),
    path("lookup/waste-codes/", views.waste_code_lookup_view, name="waste-code-lookup"),
    path("lookup/nace-codes/", views.nace_lookup_view, name="nace-lookup"),
]
