"""/api/v1/listings/: URL names ``api:listings:<entity>-<action>``."""

from django.urls import path

from . import views

app_name = "listings"

urlpatterns = [
    path("waste-codes/", views.WasteCodeListApi.as_view(), name="waste-code-list"),
    path("waste-codes/<str:code>/", views.WasteCodeDetailApi.as_view(), name="waste-code-detail"),
    path("nace/", views.NaceListApi.as_view(), name="nace-list"),
    path("categories/", views.CategoryListApi.as_view(), name="category-list"),
    path("operations/", views.OperationListApi.as_view(), name="operation-list"),
    path("public/", views.PublicListingListApi.as_view(), name="public-listing-list"),
    path(
        "public/<str:public_id>/",
        views.PublicListingDetailApi.as_view(),
        name="public-listing-detail",
    ),
    path("offers/", views.OfferListApi.as_view(), name="offer-list"),
    path("offers/create/", views.OfferCreateApi.as_view(), name="offer-create"),
    path("offers/<int:pk>/", views.OfferDetailApi.as_view(), name="offer-detail"),
    path("offers/<int:pk>/update/", views.OfferUpdateApi.as_view(), name="offer-update"),
    path("offers/<int:pk>/publish/", views.OfferPublishApi.as_view(), name="offer-publish"),
    path("offers/<int:pk>/close/", views.OfferCloseApi.as_view(), name="offer-close"),
    path("demands/", views.DemandListApi.as_view(), name="demand-list"),
    path("demands/create/", views.DemandCreateApi.as_view(), name="demand-create"),
    path("demands/<int:pk>/", views.DemandDetailApi.as_view(), name="demand-detail"),
    path("demands/<int:pk>/update/", views.DemandUpdateApi.as_view(), name="demand-update"),
    path("demands/<int:pk>/publish/", views.DemandPublishApi.as_view(), name="demand-publish"),
    path("demands/<int:pk>/close/", views.DemandCloseApi.as_view(), name="demand-close"),
    path("sites/", views.SiteListApi.as_view(), name="site-list"),
    path("sites/create/", views.SiteCreateApi.as_view(), name="site-create"),
    path("sites/<int:pk>/", views.SiteDetailApi.as_view(), name="site-detail"),
    path("sites/<int:pk>/update/", views.SiteUpdateApi.as_view(), name="site-update"),
    path("sites/<int:pk>/delete/", views.SiteDeleteApi.as_view(), name="site-delete"),
    path("import/", views.ListingImportApi.as_view(), name="listing-import"),
]
