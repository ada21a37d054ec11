from django.urls import path

from . import views

urlpatterns = [
    path("journeys/", views.JourneyListApi.as_view(), name="api_journey_list"),
    path("journeys/catalogue/", views.NodeCatalogueApi.as_view(), name="api_journey_catalogue"),
    path("journeys/<int:journey_id>/", views.JourneyDetailApi.as_view(), name="api_journey_detail"),
    path("journeys/<int:journey_id>/draft/", views.JourneyDraftApi.as_view(), name="api_journey_draft"),
    path("journeys/<int:journey_id>/publish/", views.JourneyPublishApi.as_view(), name="api_journey_publish"),
    path("journeys/<int:journey_id>/status/", views.JourneyStatusApi.as_view(), name="api_journey_status"),
    path(
        "journeys/<int:journey_id>/versions/",
        views.JourneyVersionListApi.as_view(),
        name="api_journey_versions",
    ),
    path("journeys/<int:journey_id>/start/", views.JourneyStartApi.as_view(), name="api_journey_start"),
    path(
        "journeys/<int:journey_id>/runs/<int:run_id>/", views.JourneyRunApi.as_view(), name="api_journey_run"
    ),
    path(
        "journeys/<int:journey_id>/counters/", views.JourneyCountersApi.as_view(), name="api_journey_counters"
    ),
    path(
        "journeys/<int:journey_id>/enrollments/",
        views.JourneyEnrollmentListApi.as_view(),
        name="api_journey_enrollments",
    ),
    path(
        "enrollments/<int:enrollment_id>/", views.EnrollmentDetailApi.as_view(), name="api_enrollment_detail"
    ),
    path(
        "enrollments/<int:enrollment_id>/cancel/",
        views.EnrollmentCancelApi.as_view(),
        name="api_enrollment_cancel",
    ),
]
