from django.apps import AppConfig


class CpaasConfig(AppConfig):
    name = "cpaas"
    verbose_name = "Workspaces"
