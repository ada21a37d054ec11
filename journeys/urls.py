from django.urls import path

from . import views

urlpatterns = [
    path("", views.journey_list, name="journey_list"),
    path("<int:pk>/", views.journey_detail, name="journey_detail"),
    path("<int:pk>/action/", views.journey_action, name="journey_action"),
    path("<int:pk>/start/", views.journey_start_view, name="journey_start"),
    path("<int:pk>/start/contacts/", views.journey_contact_search, name="journey_contact_search"),
    path("enrollments/<int:pk>/cancel/", views.enrollment_cancel_view, name="enrollment_cancel"),
]
