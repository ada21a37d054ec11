from django.apps import AppConfig


class ChannelsAppConfig(AppConfig):
    name = "channels_app"
    verbose_name = "Channels and messages"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from cpaas.models import Workspace
        from cpaas.realtime import register_topic

        from .signals import workspace_created

        register_topic("simulator", "simulator.use")
        # cpaas cannot import channels_app (imports point one way), so a new workspace's sandbox
        # channels come from this receiver; `sandbox_channels_ensure` also runs lazily.
        post_save.connect(workspace_created, sender=Workspace, dispatch_uid="channels_app.sandbox_channels")
        # /readyz: how long the oldest due message has waited for the dispatcher
        from cpaas import health

        from .selectors import dispatch_backlog

        health.register("dispatch.backlog_s", lambda now: dispatch_backlog(now=now)[1])
        from cpaas import metrics

        metrics.register_backlog(lambda now: dispatch_backlog(now=now))
