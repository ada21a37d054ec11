from django.urls import path

from . import views

urlpatterns = [
    path("consent/contacts/<int:contact_id>/", views.ContactConsentApi.as_view(), name="api_consent_contact"),
    path(
        "consent/contacts/<int:contact_id>/export/",
        views.ContactExportApi.as_view(),
        name="api_consent_contact_export",
    ),
    path("consent/events/", views.ConsentEventListApi.as_view(), name="api_consent_events"),
    path(
        "consent/keywords/simulate/", views.KeywordSimulateApi.as_view(), name="api_consent_keyword_simulate"
    ),
    path("consent/check/", views.CheckApi.as_view(), name="api_consent_check"),
    path("consent/suppressions/", views.SuppressionListApi.as_view(), name="api_consent_suppressions"),
]
