"""CSV import pages. TEMPORARY: replaced by the import work (contacts/imports.py)."""

from django.http import HttpResponse
from django.urls import path


def _todo(request):
    return HttpResponse("Import not built yet", status=501)


urlpatterns = [path("", _todo, name="import_list"), path("new/", _todo, name="import_create")]
