from django.urls import path

from . import import_views

urlpatterns = [
    path("", import_views.import_list, name="import_list"),
    path("new/", import_views.import_create, name="import_create"),
    path("<int:pk>/", import_views.import_detail, name="import_detail"),
    path("<int:pk>/mapping/", import_views.import_mapping, name="import_mapping"),
    path("<int:pk>/errors.csv", import_views.import_errors_csv, name="import_errors_csv"),
    path("<int:pk>/retry/", import_views.import_retry, name="import_retry"),
]
