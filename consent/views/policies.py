"""The policies page: quiet hours, purposes, frequency caps, keywords and replies per language,
and a keyword tester. Everyone with consent.view reads it; admins change it."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from contacts.models import ChannelKind
from cpaas.forms import apply_errors
from cpaas.roles import role_allows
from cpaas.tenancy import Actor, workspace_required

from .. import defaults, selectors, services
from ..defaults import BUILTIN_PURPOSES
from ..forms import CapForm, KeywordForm, KeywordTryForm, PolicyForm, PurposeForm, ReplyForm
from ..models import ConsentPolicy, FrequencyCap, Keyword, KeywordAction, Purpose


def _page(request, *, status=200, **forms):
    workspace = request.workspace
    policy = selectors.policy_for(workspace=workspace)
    keywords, replies, fuzzy = selectors.keywords_for(workspace=workspace)
    purposes = policy.purposes
    context = {
        "policy": policy,
        "purposes": purposes.values(),
        "caps": policy.caps,
        "keywords": keywords,
        "replies": sorted(replies.items(), key=lambda kv: (kv[0][0], kv[0][1])),
        "fuzzy": fuzzy,
        "channel_labels": dict(ChannelKind.choices),
        "policy_form": forms.get("policy_form")
        or PolicyForm(
            initial={
                "quiet_start": policy.quiet_start,
                "quiet_end": policy.quiet_end,
                "fuzzy_keywords": fuzzy,
                **(
                    ConsentPolicy.objects.filter(workspace=request.workspace)
                    .values("brand_name", "support_contact")
                    .first()
                    or {}
                ),
            }
        ),
        "cap_form": forms.get("cap_form") or CapForm(purposes=purposes),
        "keyword_form": forms.get("keyword_form") or KeywordForm(),
        "reply_form": forms.get("reply_form") or ReplyForm(),
        "try_form": forms.get("try_form") or KeywordTryForm(),
        "try_result": forms.get("try_result"),
        "open": forms.get("open", ""),
    }
    return TemplateResponse(request, "consent/policies.html", context, status=status)


def _can_edit(request) -> None:
    if request.method == "POST" and not role_allows(request.role, "consent.policies"):
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied(f"Your role ({request.role}) does not allow consent.policies.")


def _policy_post(request, form, service, *, done: str, form_name: str, section: str, **extra):
    """Validate the form, call the service with its data; back to the page with a toast, or the
    page again (400) with the errors next to the form's fields."""
    if form.is_valid():
        try:
            service(
                workspace=request.workspace, actor=Actor.from_request(request), **extra, **form.cleaned_data
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, done)
            return redirect("consent_policies")
    return _page(request, status=400, open=section, **{form_name: form})


def _policy_delete(request, service, *, done: str, **target):
    try:
        service(actor=Actor.from_request(request), **target)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, done)
    return redirect("consent_policies")


@workspace_required("consent.view")
def consent_policies(request):
    _can_edit(request)
    if request.method != "POST":
        return _page(request)
    return _policy_post(
        request, PolicyForm(request.POST), services.policy_update, done="Policy saved.", form_name="policy_form",
        section="policy",
    )  # fmt: skip


def _purpose_initial(spec) -> dict:
    return {
        "key": spec.key,
        "label": spec.label,
        "description": spec.description,
        "rule": spec.rule,
        "default_basis": spec.default_basis,
        "quiet_hours": spec.quiet_hours,
        "quiet_start": spec.quiet_start,
        "quiet_end": spec.quiet_end,
        "vulnerable_blocked": spec.vulnerable_blocked,
    }


@workspace_required("consent.policies")
def consent_purpose_edit(request, key=None):
    purposes = selectors.purposes_for(workspace=request.workspace)
    spec = None
    if key is not None:
        spec = purposes.get(key)
        if spec is None:
            raise Http404
    form = PurposeForm(request.POST or None, initial=_purpose_initial(spec) if spec else {"rule": "opt_in"})
    if spec is not None:
        form.fields["key"].disabled = True
    if request.method == "POST" and form.is_valid():
        try:
            services.purpose_save(
                workspace=request.workspace,
                actor=Actor.from_request(request),
                key=key or form.cleaned_data["key"],
                data=form.cleaned_data,
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Purpose saved.")
            return redirect("consent_policies")
    status = 400 if request.method == "POST" else 200
    context = {
        "form": form,
        "spec": spec,
        "overridden": key is not None
        and Purpose.objects.filter(workspace=request.workspace, key=key).exists(),
        "builtin": key in BUILTIN_PURPOSES,
    }
    return TemplateResponse(request, "consent/purpose_form.html", context, status=status)


@require_POST
@workspace_required("consent.policies")
def consent_purpose_delete(request, key):
    get_object_or_404(Purpose, workspace=request.workspace, key=key)
    try:
        services.purpose_delete(workspace=request.workspace, actor=Actor.from_request(request), key=key)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, "Purpose reset to its defaults." if key in BUILTIN_PURPOSES else "Purpose removed."
        )
    return redirect("consent_policies")


@require_POST
@workspace_required("consent.policies")
def consent_cap_save(request):
    purposes = selectors.purposes_for(workspace=request.workspace)
    form = CapForm(request.POST, purposes=purposes)
    return _policy_post(
        request, form, services.cap_save, done="Frequency cap saved.", form_name="cap_form", section="caps",
        purposes=purposes,
    )  # fmt: skip


@require_POST
@workspace_required("consent.policies")
def consent_cap_delete(request, pk):
    cap = get_object_or_404(FrequencyCap, workspace=request.workspace, pk=pk)
    return _policy_delete(request, services.cap_delete, done="Frequency cap removed.", cap=cap)


@require_POST
@workspace_required("consent.policies")
def consent_keyword_add(request):
    return _policy_post(
        request, KeywordForm(request.POST), services.keyword_add, done="Keyword added.",
        form_name="keyword_form", section="keywords",
    )  # fmt: skip


@require_POST
@workspace_required("consent.policies")
def consent_keyword_delete(request, pk):
    keyword = get_object_or_404(Keyword, workspace=request.workspace, pk=pk)
    return _policy_delete(
        request, services.keyword_delete, done=f"Keyword {keyword.word} removed.", keyword=keyword
    )


@require_POST
@workspace_required("consent.policies")
def consent_reply_save(request):
    return _policy_post(
        request, ReplyForm(request.POST), services.reply_save, done="Reply saved.", form_name="reply_form",
        section="replies",
    )  # fmt: skip


def _filled(text: str, fill: dict) -> str:
    for name, value in fill.items():
        text = text.replace("{" + name + "}", value or defaults.SUPPORT_FALLBACK[""])
    return text


@workspace_required("consent.view")
def consent_keyword_try(request):
    """Which keyword a message would match and the reply it would get. Changes nothing."""
    form = KeywordTryForm(request.GET or None)
    result = None
    if form.is_valid():
        keywords, replies, fuzzy = selectors.keywords_for(workspace=request.workspace)
        found = services.keyword_match(
            form.cleaned_data["text"], language=form.cleaned_data["language"], keywords=keywords, fuzzy=fuzzy
        )
        if found is None:
            result = {"action": "none", "text": "Not a keyword: the message goes on to the conversation."}
        elif found.action == "review":
            result = {
                "action": "none",
                "text": f"Not a keyword, but it holds a {found.rule}: it goes on to the conversation "
                "and to the review list, where a person decides whether it is an opt-out.",
            }
        else:
            lang = form.cleaned_data["language"].split("-")[0].lower()
            reply = next(
                (replies[(found.action, candidate)] for candidate in (found.language, lang, "")
                 if (found.action, candidate) in replies),
                "",
            )  # fmt: skip
            result = {
                "action": found.action,
                "label": KeywordAction(found.action).label,
                "word": found.word,
                "fuzzy": found.fuzzy,
                "rule": found.rule,
                "reply": _filled(reply, selectors.reply_fields_for(workspace=request.workspace)),
            }
    if request.htmx:
        return TemplateResponse(
            request, "consent/policies.html#try", {"try_form": form, "try_result": result}
        )
    return _page(request, try_form=form, try_result=result, open="try")
