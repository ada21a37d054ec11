from django.apps import AppConfig


class CpaasConfig(AppConfig):
    name = "cpaas"
    verbose_name = "Workspaces"

    def ready(self) -> None:
        from django_q.signals import pre_enqueue, pre_execute

        from .logs import request_id_from_task, request_id_to_task

        # the request id travels with the tasks a request enqueues (cpaas/logs.py)
        pre_enqueue.connect(request_id_to_task, dispatch_uid="cpaas.request_id_to_task")
        pre_execute.connect(request_id_from_task, dispatch_uid="cpaas.request_id_from_task")
