from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from listings.api.pages import api_token_page
from listings.views import PasswordResetConfirmView, home_view
from matching.urls import facilitate_patterns

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/", include("symbiosis.api_urls")),
]
urlpatterns += i18n_patterns(
    path("", home_view, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password-reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("", include("listings.urls")),
    path("matching/", include("matching.urls")),
    path("facilitate/", include(facilitate_patterns)),
    path("account/api-tokens/", api_token_page, name="api-tokens"),
    path("admin/", admin.site.urls),
    prefix_default_language=False,
)

# JSON errors under /api/, the portal's pages elsewhere (symbiosis/api.py).
handler400 = "symbiosis.api.bad_request_handler"
handler404 = "symbiosis.api.not_found_handler"
handler500 = "symbiosis.api.server_error_handler"
