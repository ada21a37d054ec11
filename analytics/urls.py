from django.urls import path

from . import views

urlpatterns = [
    path("journeys/<int:pk>/", views.journey_analytics, name="analytics_journey"),
    path("kpis/<slug:kind>/", views.kpi_report, name="analytics_kpi"),
    path("settings/", views.settings_page, name="analytics_settings"),
    path("settings/change/", views.settings_change, name="analytics_settings_change"),
    path("health/", views.health_page, name="analytics_health"),
]
