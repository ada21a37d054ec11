from django.urls import path

from . import views

urlpatterns = [
    path("journeys/<int:journey_id>/funnel/", views.JourneyFunnelApi.as_view(), name="api_journey_funnel"),
    path("analytics/kpis/<str:kind>/", views.KpiApi.as_view(), name="api_analytics_kpi"),
    path("analytics/dashboard/", views.DashboardApi.as_view(), name="api_analytics_dashboard"),
    path("analytics/health/", views.HealthApi.as_view(), name="api_analytics_health"),
]
