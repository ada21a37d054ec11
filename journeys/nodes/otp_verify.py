"""otp.verify: sends a one-time code (purpose otp) on the first channel, falling back along the
list when a send fails or is not delivered in time, then waits for the code: typed back as a
reply, or checked by your system with an `otp.check` event carrying `code`. Exits: verified,
failed (too many wrong codes, or nothing could be sent), expired.

The code itself is never stored: only a salted hash in the enrolment's node state."""

import hashlib
import re
import secrets

from .base import KINDS, LANG_TEXT, Node, SendRequest, go, obj, send, wait

CHECK_EVENT = "otp.check"


def _hash(salt: str, code: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


class OtpVerify(Node):
    type = "otp.verify"
    category = "action"
    label = "Verify with a one-time code"
    icon = "🔑"
    help = "Sends a code with channel fallback (e.g. SMS → WhatsApp → voice) and waits for it to be entered."
    schema = obj(
        {
            "channels": {"type": "array", "items": KINDS, "minItems": 1, "maxItems": 4},
            "fallback_after_s": {"type": "integer", "minimum": 5, "maximum": 600},
            "expiry_s": {"type": "integer", "minimum": 30, "maximum": 3600},
            "max_attempts": {"type": "integer", "minimum": 1, "maximum": 10},
            "code_length": {"type": "integer", "minimum": 4, "maximum": 10},
            "template": LANG_TEXT,
        },
        ["channels"],
    )
    form = [
        {"name": "channels", "label": "Channels, in order", "widget": "channel_list", "required": True},
        {"name": "fallback_after_s", "label": "Next channel after", "widget": "duration"},
        {"name": "expiry_s", "label": "Code expires after", "widget": "duration"},
        {"name": "max_attempts", "label": "Wrong codes allowed", "widget": "number"},
        {"name": "code_length", "label": "Digits", "widget": "number"},
        {
            "name": "template",
            "label": "Text per language",
            "widget": "localized_text",
            "help": "Must contain {{code}}.",
        },
    ]
    exits = ("verified", "failed", "expired")
    waits = True
    defaults = {
        "channels": ["sms", "whatsapp", "voice"],
        "fallback_after_s": 30,
        "expiry_s": 300,
        "max_attempts": 3,
    }

    def check(self, config, ctx):
        problems = []
        for kind in config.get("channels", []):
            if kind not in ctx.channel_kinds:
                problems.append(("channels", f"No active {kind} channel in this workspace."))
        for lang, text in (config.get("template") or {}).items():
            if "{{code}}" not in text.replace(" ", ""):
                problems.append((f"template.{lang}", "The text must contain {{code}}."))
        return problems

    def enter(self, run):
        cfg = run.config
        length = int(cfg.get("code_length", 6))
        code = "".join(secrets.choice("0123456789") for _ in range(length))
        salt = secrets.token_hex(8)
        run.state.update({"salt": salt, "hash": _hash(salt, code), "attempts": 0})
        texts = cfg.get("template") or {"en": "Your code is {{code}}. It expires in {{minutes}} minutes."}
        minutes = max(1, int(cfg.get("expiry_s", 300)) // 60)
        text = run.render(run.pick(texts), extra={"code": code, "minutes": str(minutes)})
        channels = list(cfg["channels"])
        content = {"text": text}
        if channels[0] == "voice":
            content["voice"] = {"say": text.replace(code, " ".join(code))}
        return send(
            SendRequest(
                channel=channels[0],
                content=content,
                purpose="otp",
                fallback=channels[1:],
                fallback_after_s=int(cfg.get("fallback_after_s", 30)) if channels[1:] else None,
            )
        )

    def resume(self, run, signal):
        cfg = run.config
        if signal.kind == "sent":
            if (
                signal.data.get("skipped")
                or signal.data.get("status") == "blocked"
                and not cfg["channels"][1:]
            ):
                return go("failed", reason=signal.data.get("skipped") or signal.data.get("reason", "blocked"))
            run.state["expires_at"] = run.after(int(cfg.get("expiry_s", 300))).isoformat()
            return wait(
                "reply",
                until=run.after(int(cfg.get("expiry_s", 300))),
                event=CHECK_EVENT,
                message_id=signal.data.get("message_id"),
            )
        if signal.kind == "timeout":
            return go("expired")
        raw = str(signal.data.get("code") or signal.data.get("text") or "")
        m = re.search(r"\d{4,10}", raw.replace(" ", ""))
        if m and secrets.compare_digest(
            _hash(run.state.get("salt", ""), m.group(0)), run.state.get("hash", "")
        ):
            return go("verified")
        run.state["attempts"] = int(run.state.get("attempts", 0)) + 1
        if run.state["attempts"] >= int(cfg.get("max_attempts", 3)):
            return go("failed", reason="too many wrong codes")
        from datetime import datetime

        until = datetime.fromisoformat(run.state["expires_at"])
        return wait("reply", until=until, event=CHECK_EVENT, wrong_codes=run.state["attempts"])


NODE = OtpVerify()
