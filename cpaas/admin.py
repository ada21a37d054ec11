"""The Django admin at /admin/, for staff users (`is_staff`): every model of the product's apps
read-only (the workspace data changes only through the product's own services, which check
roles, write the audit log and keep invariants the admin would skip), with secret fields left
out. Staff with the permissions (or superusers) also see django-q2's failed tasks, queued tasks
and schedules, and django-axes's log-in lock-outs, which stay editable: unlocking someone or
retrying a task is what the admin is for."""

from django.apps import apps
from django.contrib import admin

PRODUCT_APPS = (
    "cpaas",
    "contacts",
    "consent",
    "channels_app",
    "experiments",
    "journeys",
    "inbox",
    "analytics",
)
# credentials, key hashes, sealed OTP texts: never on an admin page
SECRET_WORDS = ("credential", "secret", "hash", "sealed", "password", "token_key")


class ReadOnlyAdmin(admin.ModelAdmin):
    list_per_page = 50
    show_full_result_count = False  # no COUNT(*) over a big table on every list page

    def get_list_display(self, request):
        return [f.name for f in self.model._meta.fields if not _secret(f.name)][:8]

    def get_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if not _secret(f.name)]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _secret(name: str) -> bool:
    return any(word in name for word in SECRET_WORDS)


def register_product_models() -> None:
    for config in apps.get_app_configs():
        if config.label not in PRODUCT_APPS:
            continue
        for model in config.get_models():
            if not admin.site.is_registered(model):
                admin.site.register(model, ReadOnlyAdmin)


register_product_models()
admin.site.site_header = "CPaaS Journeys: operations"
admin.site.site_title = "CPaaS Journeys admin"
