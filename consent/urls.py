from django.urls import path

from .views import contacts, lists, policies

urlpatterns = [
    path("", contacts.consent_home, name="consent_home"),
    path("contacts/<int:pk>/", contacts.consent_contact, name="consent_contact"),
    path("contacts/<int:pk>/change/", contacts.consent_change, name="consent_change"),
    path("contacts/<int:pk>/check/", contacts.consent_contact_check, name="consent_contact_check"),
    path("contacts/<int:pk>/audit.csv", contacts.consent_contact_audit_csv, name="consent_contact_audit_csv"),
    path("contacts/<int:pk>/export.json", contacts.consent_contact_export, name="consent_contact_export"),
    path("contacts/<int:pk>/erase/", contacts.consent_contact_erase, name="consent_contact_erase"),
    path("events/", contacts.consent_events, name="consent_events"),
    path("export.csv", contacts.consent_registry_csv, name="consent_registry_csv"),
    path("policies/", policies.consent_policies, name="consent_policies"),
    path("policies/purposes/new/", policies.consent_purpose_edit, name="consent_purpose_create"),
    path("policies/purposes/<slug:key>/", policies.consent_purpose_edit, name="consent_purpose_edit"),
    path(
        "policies/purposes/<slug:key>/delete/", policies.consent_purpose_delete, name="consent_purpose_delete"
    ),
    path("policies/caps/", policies.consent_cap_save, name="consent_cap_save"),
    path("policies/caps/<int:pk>/delete/", policies.consent_cap_delete, name="consent_cap_delete"),
    path("policies/keywords/", policies.consent_keyword_add, name="consent_keyword_add"),
    path("policies/keywords/try/", policies.consent_keyword_try, name="consent_keyword_try"),
    path(
        "policies/keywords/<int:pk>/delete/", policies.consent_keyword_delete, name="consent_keyword_delete"
    ),
    path("policies/replies/", policies.consent_reply_save, name="consent_reply_save"),
    path("suppressions/", lists.consent_suppressions, name="consent_suppressions"),
    path("suppressions/<int:pk>/lift/", lists.consent_suppression_lift, name="consent_suppression_lift"),
    path("reviews/", lists.consent_reviews, name="consent_reviews"),
    path("reviews/<int:pk>/decide/", lists.consent_review_decide, name="consent_review_decide"),
    path("imports/", lists.consent_import_list, name="consent_import_list"),
    path("imports/new/", lists.consent_import_create, name="consent_import_create"),
    path("imports/<int:pk>/", lists.consent_import_detail, name="consent_import_detail"),
    path("imports/<int:pk>/start/", lists.consent_import_start, name="consent_import_start"),
    path("imports/<int:pk>/errors.csv", lists.consent_import_errors_csv, name="consent_import_errors_csv"),
]
