from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    """Dashboards, journey analytics, the seeds' KPIs and messaging health (docs/analytics.md).

    The top layer: it reads every other app and no app imports it."""

    name = "analytics"
