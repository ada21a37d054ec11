from django.urls import path  # noqa: F401  (pages are added here by the analytics issue, 15)

urlpatterns: list = []
