"""CSV import pages: upload, column mapping with a preview, progress (htmx polling) with the row
errors, and past imports. The work is in contacts/imports.py."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from cpaas import csv_safe
from cpaas.forms import apply_errors
from cpaas.tenancy import Actor, workspace_required

from . import imports
from .models import ContactImport

ERRORS_SHOWN = 200


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        allow_empty_file=True,  # the service says "The file is empty." like every other file error
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,text/csv"}),
    )
    encoding = forms.ChoiceField(
        choices=imports.ENCODINGS,
        initial="utf-8-sig",
        help_text="UTF-8 unless the file comes from an older Excel on Windows (then Windows-1252).",
    )
    skip_invalid_rows = forms.BooleanField(
        required=False,
        label="Skip invalid rows and import the rest",
        help_text="Off: one invalid row stops the import and nothing is written.",
    )
    tags = forms.CharField(
        required=False,
        label="Tags for every imported contact",
        help_text="Comma separated, e.g. spring-campaign, newsletter.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        limit = settings.CONTACT_IMPORT_MAX_BYTES / 1_048_576
        self.fields[
            "file"
        ].help_text = (
            f"Up to {limit:.0f} MB. The first line names the columns; comma, semicolon or tab separated."
        )


class ImportMappingForm(forms.Form):
    """One select per CSV column: the contact field it becomes, or nothing."""

    def __init__(self, *args, headers: list[str], choices: list[tuple[str, str]], samples: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.headers = headers
        for index, header in enumerate(headers):
            self.fields[f"col_{index}"] = forms.ChoiceField(
                choices=[("", "— do not import —")] + choices,
                required=False,
                label=header,
                help_text=samples.get(header, ""),
            )

    def mapping(self) -> dict[str, str]:
        return {
            header: self.cleaned_data[f"col_{index}"]
            for index, header in enumerate(self.headers)
            if self.cleaned_data.get(f"col_{index}")
        }

    def add_service_errors(self, exc: ValidationError) -> None:
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc.messages)
            return
        for key, messages_ in exc.message_dict.items():
            name = f"col_{self.headers.index(key)}" if key in self.headers else None
            self.add_error(name, messages_)


def _import_or_404(request, pk, *defer: str) -> ContactImport:
    return get_object_or_404(
        ContactImport.objects.defer(*defer).select_related("workspace"), workspace=request.workspace, pk=pk
    )


@workspace_required("contacts.import")
def import_list(request):
    imports_ = (
        ContactImport.objects.filter(workspace=request.workspace)
        .defer("content", "errors")
        .select_related("created_by")
    )
    page = Paginator(imports_, 25).get_page(request.GET.get("page"))
    return TemplateResponse(request, "contacts/import_list.html", {"page": page})


@workspace_required("contacts.import")
def import_create(request):
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            imports.import_check_size(upload.size)  # before reading it into memory
            contact_import = imports.import_upload(
                workspace=request.workspace,
                actor=Actor.from_request(request),
                filename=upload.name,
                content=upload.read(),
                encoding=form.cleaned_data["encoding"],
                skip_invalid_rows=form.cleaned_data["skip_invalid_rows"],
                tag_names=form.cleaned_data["tags"],
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            return redirect("import_mapping", pk=contact_import.pk)
    status = 400 if request.method == "POST" else 200
    return TemplateResponse(request, "contacts/import_create.html", {"form": form}, status=status)


@workspace_required("contacts.import")
def import_mapping(request, pk):
    contact_import = _import_or_404(request, pk)
    if contact_import.status != ContactImport.Status.UPLOADED:
        return redirect("import_detail", pk=contact_import.pk)
    try:
        preview = imports.import_preview(contact_import=contact_import)
    except ValidationError as exc:  # checked at upload; only a hand-made import gets here
        messages.error(request, " ".join(exc.messages))
        preview = []
    headers = contact_import.headers
    samples = {
        header: ", ".join(v for v in (cells[i].strip()[:40] for _, cells in preview if i < len(cells)) if v)[
            :120
        ]
        for i, header in enumerate(headers)
    }
    form = ImportMappingForm(
        request.POST or None,
        headers=headers,
        choices=imports.mapping_fields(workspace=request.workspace),
        samples={h: f"e.g. {s}" if s else "empty in the first rows" for h, s in samples.items()},
        initial={f"col_{i}": contact_import.mapping.get(h, "") for i, h in enumerate(headers)},
    )
    if request.method == "POST" and form.is_valid():
        try:
            imports.import_start(
                contact_import=contact_import, actor=Actor.from_request(request), mapping=form.mapping()
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            return redirect("import_detail", pk=contact_import.pk)
    context = {
        "contact_import": contact_import,
        "form": form,
        "preview": preview,
        "encoding_label": imports.ENCODING_LABELS.get(contact_import.encoding, contact_import.encoding),
    }
    status = 400 if request.method == "POST" else 200
    return TemplateResponse(request, "contacts/import_mapping.html", context, status=status)


@workspace_required("contacts.import")
def import_detail(request, pk):
    contact_import = _import_or_404(request, pk, "content")
    if contact_import.status == ContactImport.Status.UPLOADED:
        return redirect("import_mapping", pk=contact_import.pk)
    if contact_import.is_running and imports.import_fail_if_stale(contact_import=contact_import):
        contact_import.refresh_from_db()
    context = {
        "contact_import": contact_import,
        "errors_shown": contact_import.errors[:ERRORS_SHOWN],
        "mapped": [(h, f) for h, f in contact_import.mapping.items()],
    }
    if request.htmx and request.htmx.target == "import-progress":
        return TemplateResponse(request, "contacts/import_detail.html#progress", context)
    return TemplateResponse(request, "contacts/import_detail.html", context)


@workspace_required("contacts.import")
def import_errors_csv(request, pk):
    contact_import = _import_or_404(request, pk, "content")
    header, *rows = imports.errors_csv_rows(contact_import)
    body = "".join(csv_safe.csv_lines(header, rows))
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{contact_import.pk}-errors.csv"'
    return response


@require_POST
@workspace_required("contacts.import")
def import_retry(request, pk):
    contact_import = _import_or_404(request, pk)
    try:
        again = imports.import_retry_skipping(
            contact_import=contact_import, actor=Actor.from_request(request)
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("import_detail", pk=contact_import.pk)
    messages.success(request, "Importing the valid rows; the invalid ones are skipped.")
    return redirect("import_detail", pk=again.pk)
