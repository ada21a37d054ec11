from django.urls import path

from . import views

urlpatterns = [
    path("experiments/", views.ExperimentListApi.as_view(), name="api_experiment_list"),
    path(
        "experiments/<int:experiment_id>/", views.ExperimentDetailApi.as_view(), name="api_experiment_detail"
    ),
    path(
        "experiments/<int:experiment_id>/results/",
        views.ExperimentResultsApi.as_view(),
        name="api_experiment_results",
    ),
    path(
        "experiments/<int:experiment_id>/winner/",
        views.ExperimentWinnerApi.as_view(),
        name="api_experiment_winner",
    ),
    path(
        "experiments/<int:experiment_id>/stop/", views.ExperimentStopApi.as_view(), name="api_experiment_stop"
    ),
    path(
        "experiments/<int:experiment_id>/decisions/",
        views.ExperimentDecisionListApi.as_view(),
        name="api_experiment_decisions",
    ),
    path(
        "experiments/<int:experiment_id>/assignments.csv",
        views.ExperimentAssignmentsCsvApi.as_view(),
        name="api_experiment_assignments_csv",
    ),
]
