from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    """Dashboards, journey analytics, the seeds' KPIs and messaging health (docs/analytics.md).

    The top layer: it reads every other app and no app imports it."""

    name = "analytics"

    def ready(self):
        from cpaas.realtime import register_topic

        # "analytics.changed": a rollup refresh changed the workspace's numbers (pages refetch)
        register_topic("analytics", "analytics.view")
