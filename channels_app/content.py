"""What a message carries, checked against what its channel kind can carry.

Input (every key optional, at least something to send):

    {"text": "...", "media_url": "https://...",
     "buttons": [{"id": "yes", "title": "Yes"}, ...],   # or plain strings
     "quick_replies": ["Pay now", "Call me"],
     "template": {"name": "otp_code", "language": "en", "variables": {"1": "123456"}},
     "voice": {"say": "...", "language": "fr", "gather": {"digits": 1, "timeout_s": 5}},
     "email": {"subject": "...", "body": "text or HTML", "html": "<p>...</p>"}}

Documented fallbacks, recorded in `content_notes` so the message page shows them: buttons and
quick replies on a kind without them become numbered options in the text ("Reply 1 for Yes");
a media URL on a kind without media is appended to the text as a link; a WhatsApp template on
another kind goes as its `text`; an email's HTML (`email.html`, or a body with markup) is cleaned
with nh3 and its text part derived from it (providers/email/sanitise.py); voice speaks the text (options become "For Yes, press 1." and
the call waits for that key: DTMF); email uses the text as its body. A call's language is
`voice.language` when given, else the contact's (filled in per message by the pipeline).
Everything else that cannot be carried is a ValidationError naming the field."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from .providers.base import Capabilities
from .providers.email.sanitise import bodies as email_bodies
from .segments import count_segments

KEYS = ("text", "media_url", "buttons", "quick_replies", "template", "voice", "email")
BUTTON_TITLE_MAX = 20
QUICK_REPLY_MAX = 20
SUBJECT_MAX = 200
_url = URLValidator(schemes=["http", "https"])


def _options(raw, field: str, limit: int, errors: dict) -> list[dict]:
    if raw in (None, []):
        return []
    if not isinstance(raw, list):
        errors[field] = ["A list of options."]
        return []
    out = []
    for i, item in enumerate(raw):
        if isinstance(item, str):
            item = {"id": item, "title": item}
        if not isinstance(item, dict) or not str(item.get("title", "")).strip():
            errors[field] = [f"Option {i + 1} needs a title."]
            return []
        title = str(item["title"]).strip()
        if len(title) > limit:
            errors[field] = [f"Option '{title[:30]}' is longer than {limit} characters."]
            return []
        out.append({"id": str(item.get("id") or title)[:256], "title": title})
    return out


def content_clean(
    *, kind: str, content, capabilities: Capabilities, default_subject: str = ""
) -> tuple[dict, str, list[str]]:
    """(clean content, its main text, notes on how it was adapted) or ValidationError."""
    if not isinstance(content, dict):
        raise ValidationError({"content": ['Must be an object, e.g. {"text": "Hello"}.']})
    unknown = sorted(set(content) - set(KEYS))
    if unknown:
        raise ValidationError(
            {f"content.{k}": [f"Unknown field (known: {', '.join(KEYS)})."] for k in unknown}
        )
    errors: dict[str, list[str]] = {}
    notes: list[str] = []
    text = content.get("text") or ""
    if not isinstance(text, str):
        errors["content.text"] = ["Must be a string."]
        text = ""
    media_url = content.get("media_url") or ""
    if media_url:
        try:
            _url(media_url)
        except ValidationError:
            errors["content.media_url"] = ["Not an http(s) URL."]
    buttons = _options(content.get("buttons"), "content.buttons", BUTTON_TITLE_MAX, errors)
    quick = _options(content.get("quick_replies"), "content.quick_replies", QUICK_REPLY_MAX, errors)
    template = content.get("template") or None
    voice = content.get("voice") or {}
    email = content.get("email") or {}
    for name, value in (("template", template), ("voice", voice), ("email", email)):
        if value is not None and not isinstance(value, dict):
            errors[f"content.{name}"] = ["Must be an object."]
    if errors:
        raise ValidationError(errors)

    clean: dict = {}
    # WhatsApp templates
    if template:
        if not str(template.get("name", "")).strip():
            errors["content.template.name"] = ["A template needs its approved name."]
        variables = template.get("variables", {})
        if not isinstance(variables, dict | list):
            errors["content.template.variables"] = ["An object or a list."]
        if capabilities.template:
            clean["template"] = {
                "name": str(template.get("name", "")).strip(),
                "language": str(template.get("language") or "en"),
                "variables": variables,
            }
        elif text:
            notes.append(f"template '{template.get('name')}' sent as its text on {kind}")
        else:
            errors["content.template"] = [
                f"{kind} has no templates: give `text` too, which is sent in its place."
            ]
    # voice
    if voice and not isinstance(voice.get("say", ""), str):
        errors["content.voice.say"] = ["Must be a string."]
    gather = voice.get("gather") if voice else None
    if capabilities.voice:
        say = (voice.get("say") or text).strip()
        if not say:
            errors["content.voice.say"] = ["A call needs something to say (voice.say or text)."]
        if media_url:
            errors["content.media_url"] = ["A voice call cannot carry media."]
        clean_voice = {"say": say}
        if voice.get("language"):
            clean_voice["language"] = str(voice["language"])[:16]
        if gather:
            digits = gather.get("digits", 1) if isinstance(gather, dict) else None
            timeout = gather.get("timeout_s", 5) if isinstance(gather, dict) else None
            if not isinstance(digits, int) or not 1 <= digits <= 20:
                errors["content.voice.gather.digits"] = ["From 1 to 20."]
            elif not isinstance(timeout, int) or not 1 <= timeout <= 60:
                errors["content.voice.gather.timeout_s"] = ["From 1 to 60 seconds."]
            else:
                clean_voice["gather"] = {"digits": digits, "timeout_s": timeout}
        clean["voice"] = clean_voice
        text = say
    elif voice.get("say") and not text:
        text = voice["say"]
        notes.append(f"voice text sent as a message on {kind}")
    # email
    if capabilities.email:
        for field_name in ("subject", "body", "html"):
            if not isinstance(email.get(field_name) or "", str):
                errors[f"content.email.{field_name}"] = ["Must be a string."]
        if errors:
            raise ValidationError(errors)
        body, html = email_bodies(body=email.get("body") or text, html=email.get("html") or "")
        subject = " ".join((email.get("subject") or default_subject).split())  # no header folding tricks
        if not (body.strip() or html.strip()):
            errors["content.email.body"] = ["An email needs a body (email.body, email.html or text)."]
        if len(subject) > SUBJECT_MAX:
            errors["content.email.subject"] = [f"At most {SUBJECT_MAX} characters."]
        clean["email"] = {"subject": subject, "body": body} | ({"html": html} if html else {})
        text = body
    elif email.get("body") and not text:
        text = email["body"]
    # options
    for name, items, allowed in (
        ("buttons", buttons, capabilities.buttons),
        ("quick_replies", quick, capabilities.quick_replies),
    ):
        if not items:
            continue
        if allowed and len(items) > allowed:
            errors[f"content.{name}"] = [f"{kind} carries at most {allowed} {name.replace('_', ' ')}."]
        elif allowed:
            clean[name] = items
        elif capabilities.voice:  # spoken, and the call waits for the key
            lines = " ".join(f"For {item['title']}, press {i}." for i, item in enumerate(items, 1))
            clean["voice"]["say"] = f"{clean['voice']['say']} {lines}".strip()
            clean["voice"].setdefault("gather", {"digits": len(str(len(items))), "timeout_s": 10})
            text = clean["voice"]["say"]
            clean["text_options"] = items  # so the key "2" maps back to the option's id
            notes.append(f"{name.replace('_', ' ')} spoken as keys to press on {kind}")
        else:
            lines = "\n".join(f"{i}. {item['title']}" for i, item in enumerate(items, 1))
            text = (
                f"{text}\n\n{lines}\nReply with the number." if text else f"{lines}\nReply with the number."
            )
            clean["text_options"] = items  # so a reply "2" maps back to the option's id
            notes.append(f"{name.replace('_', ' ')} sent as numbered options in the text on {kind}")
    # media
    if media_url and not capabilities.voice:
        if capabilities.media:
            clean["media_url"] = media_url
        else:
            text = f"{text}\n{media_url}" if text else media_url
            notes.append(f"media sent as a link on {kind}")
    if not (text.strip() or clean.get("media_url") or clean.get("template")):
        errors.setdefault("content", ["Nothing to send: give at least text, media or a template."])
    if len(text) > capabilities.max_text:
        errors["content.text"] = [
            f"{len(text):,} characters; {kind} carries at most {capabilities.max_text:,}."
        ]
    if errors:
        raise ValidationError(errors)
    if text:
        clean["text"] = text
    asked = {k: v for k, v in content.items() if k in KEYS and v not in (None, "", [], {})}
    if notes or set(asked) - set(clean):
        # keep what was asked for, so a fallback on another kind adapts from the original
        # (a voice or email part, a template, buttons this kind could not carry)
        clean["source"] = asked
    return clean, text, notes


def segment_fields(kind: str, text: str) -> dict:
    """segments and encoding for SMS (what the carrier bills), nothing for other kinds."""
    if kind != "sms":
        return {"segments": 0, "encoding": ""}
    info = count_segments(text)
    return {"segments": info.segments, "encoding": info.encoding}
