from django.urls import path

from . import views

urlpatterns = [
    path("", views.experiment_list, name="experiment_list"),
    path("<int:pk>/", views.experiment_detail, name="experiment_detail"),
    path("<int:pk>/action/", views.experiment_action, name="experiment_action"),
    path("<int:pk>/refresh/", views.experiment_refresh, name="experiment_refresh"),
]
