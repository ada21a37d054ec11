from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import health, invitation_views, views

urlpatterns = [
    path("", include("analytics.home_urls")),  # the dashboard by role (analytics sits on top)
    # answered by cpaas.health.HealthMiddleware first; named here so they are reversible and listed
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    path(
        "admin/", admin.site.urls
    ),  # staff only (cpaas/admin.py)  # METRICS_TOKEN or this host only (cpaas/metrics.py)
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("no-workspace/", views.no_workspace, name="no_workspace"),
    path("workspace/switch/", views.workspace_switch, name="workspace_switch"),
    path("settings/", views.settings_home, name="settings"),
    path("settings/workspace/", views.workspace_edit, name="workspace_edit"),
    path("settings/users/", views.user_list, name="user_list"),
    path("settings/users/invite/", views.invitation_create, name="invitation_create"),
    path("settings/invitations/<int:pk>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("invitations/<str:token>/", invitation_views.invitation_accept, name="invitation_accept"),
    path("settings/users/<int:pk>/", views.membership_edit, name="membership_edit"),
    path("settings/users/<int:pk>/unlock/", views.membership_unlock, name="membership_unlock"),
    path("settings/tokens/", views.token_list, name="token_list"),
    path("settings/tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
    path("settings/audit/", views.audit_list, name="audit_list"),
    path("contacts/", include("contacts.urls")),
    path("consent/", include("consent.urls")),
    path("journeys/editor/", include("journeys.editor.urls")),
    path("journeys/", include("journeys.urls")),
    path("inbox/", include("inbox.urls")),
    path("inbox/", include("inbox.panel_urls")),
    path("experiments/", include("experiments.urls")),
    path("analytics/", include("analytics.urls")),
    path("", include("channels_app.urls")),
    path("webhooks/", include("channels_app.webhook_urls")),
    path("api/v1/", include("cpaas.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    # the split view serves its start-up script as a file: the CSP allows no inline script
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api_schema", template_name="cpaas/swagger_ui.html"),
        name="api_docs",
    ),
]

handler400 = "cpaas.views.bad_request"
handler403 = "cpaas.views.forbidden"
handler404 = "cpaas.views.not_found"
handler500 = "cpaas.views.server_error"
