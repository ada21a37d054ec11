"""otp.verify on the messaging core's OTP service (channels_app.services.verify): starts a
verification (code made and hashed there, sent with purpose otp on the first channel, the rest
as its fallback chain: SMS → WhatsApp → voice), then waits for the code: typed back as a reply,
or sent by your system as an `otp.check` event with a `code` property. A verification checked
through the verification API ends the wait at once: the OTP service records an `otp.check` event
naming the verification (no code) when a check approves or fails it, and the node then reads the
verification's status (never the event's word for it). The wait's timer is the code's expiry.
Over a rate limit of the workspace's verification settings the node waits (a timer) and tries
again: a limit never fails a person; only an hour of it does.
Exits: verified, failed (too many wrong codes, a country not verified, an hour rate-limited),
expired."""

import datetime as dt
import ipaddress
import random
import re

from django.core.exceptions import ValidationError

from .base import KINDS, Node, channel_name, go, obj, wait

CHECK_EVENT = "otp.check"
DEFER_MAX_S = 3600  # a verification a rate limit kept from starting for an hour: failed


def _verification(run):
    from channels_app.models import Verification

    return Verification.objects.filter(pk=run.state.get("verification"), workspace=run.workspace).first()


class OtpVerify(Node):
    type = "otp.verify"
    category = "action"
    label = "Verify with a one-time code"
    icon = "key-round"
    help = "Sends a code with channel fallback (e.g. SMS → WhatsApp → voice) and waits for it to be entered."
    schema = obj(
        {
            "channels": {"type": "array", "items": KINDS, "minItems": 1, "maxItems": 4},
            "fallback_after_s": {"type": "integer", "minimum": 5, "maximum": 600},
            "expiry_s": {"type": "integer", "minimum": 60, "maximum": 3600},
            "max_attempts": {"type": "integer", "minimum": 1, "maximum": 10},
            "code_length": {"type": "integer", "minimum": 4, "maximum": 10},
            "client_ip": {"type": "string", "maxLength": 200},
        },
        ["channels"],
    )
    form = [
        {"name": "channels", "label": "Channels, in order", "widget": "channel_list", "required": True},
        {"name": "fallback_after_s", "label": "Next channel after", "widget": "duration"},
        {"name": "expiry_s", "label": "Code expires after", "widget": "duration"},
        {"name": "max_attempts", "label": "Attempts allowed", "widget": "number"},
        {"name": "code_length", "label": "Digits", "widget": "number"},
        {
            "name": "client_ip",
            "label": "End user's IP",
            "widget": "text",
            "help": "For the per-IP limit against SMS pumping, e.g. {{event.ip}}.",
        },
    ]
    exits = ("verified", "failed", "expired")
    defaults = {
        "channels": ["sms", "whatsapp", "voice"],
        "fallback_after_s": 30,
        "expiry_s": 300,
        "max_attempts": 3,
    }

    def title(self, config):
        chans = [channel_name(k) for k in config.get("channels") or []]
        return f"Verify by {' then '.join(chans[:2])}" if chans else self.label

    def waiting_exits(self, config):
        return frozenset({"verified", "expired"})  # failed: also when it cannot start

    def check(self, config, ctx):
        problems = []
        for kind in config.get("channels", []):
            if kind == "push":
                problems.append(("channels", "Push cannot carry a code."))
            elif kind not in ctx.channel_kinds:
                problems.append(("channels", f"No active {kind} channel in this workspace."))
        return problems

    def _wait(self, run, expires_at: dt.datetime, **detail):
        return wait("reply", event=CHECK_EVENT, until=expires_at, **detail)

    def enter(self, run):
        return self._start(run)

    def _start(self, run):
        """Start the verification, or wait and try again while a rate limit of the workspace's
        verification settings is reached: a limit defers a person, it never fails them (only
        DEFER_MAX_S of deferral does). A refusal (a country not verified, no address) fails."""
        from channels_app.services.verify import VerificationRateLimited, verification_start

        cfg = run.config
        try:
            verification = verification_start(
                workspace=run.workspace, contact=run.contact, channels=list(cfg["channels"]),
                code_length=int(cfg.get("code_length", 6)), expiry_s=int(cfg.get("expiry_s", 300)),
                fallback_after_s=int(cfg.get("fallback_after_s", 30)), max_attempts=int(cfg.get("max_attempts", 3)),
                locale=run.contact.language or run.workspace.default_language or "en",
                client_ip=self._client_ip(run), now=run.now,
            )  # fmt: skip
        except VerificationRateLimited as exc:
            since = dt.datetime.fromisoformat(run.state.setdefault("deferred_since", run.now.isoformat()))
            waited = (run.now - since).total_seconds()
            if waited >= DEFER_MAX_S:
                return go("failed", reason=f"rate limited for {waited / 60:.0f} min: {exc.messages[0]}"[:300])
            # a burst's deferred contacts retry spread over the next window, not all at once
            retry_at = run.now + dt.timedelta(seconds=exc.retry_after_s * (1 + random.random()))
            return wait("timer", until=retry_at, deferred=exc.messages[0][:200])
        except ValidationError as exc:
            return go("failed", reason="; ".join(exc.messages)[:300])
        run.state.pop("deferred_since", None)
        run.state.update({"verification": verification.pk, "expires_at": verification.expires_at.isoformat()})
        return self._wait(run, verification.expires_at, verification=verification.pk)

    def _client_ip(self, run) -> str | None:
        """The end user's IP for the per-IP limit, from the node's template (e.g. {{event.ip}});
        a value that is not an IP is left out rather than failing the person."""
        template = run.config.get("client_ip")
        if not template:
            return None
        try:
            return str(ipaddress.ip_address(str(run.render(template)).strip()))
        except ValueError:
            return None

    def resume(self, run, signal):
        from channels_app.services.verify import verification_channel, verification_check

        if "verification" not in run.state:  # deferred by a rate limit: the retry is due
            return self._start(run)
        verification = _verification(run)
        if verification is None:
            return go("failed", reason="the verification is gone")
        expires_at = dt.datetime.fromisoformat(run.state["expires_at"])
        data = signal.data or {}
        outcome_only = signal.kind == "event" and not (data.get("code") or data.get("text"))
        if outcome_only and str(data.get("verification")) != str(verification.pk):
            return self._wait(run, expires_at)  # another verification's outcome: not ours
        if signal.kind != "timeout" and not outcome_only:
            raw = str(data.get("code") or data.get("text") or "")
            m = re.search(r"\d{4,10}", raw.replace(" ", ""))
            code = m.group(0) if m else raw.strip()[:20]
            if not code:
                return self._wait(run, expires_at)  # nothing that could be a code: not an attempt
            if (
                verification_check(verification=verification, code=code, now=run.now, notify=False)
                == "approved"
            ):
                return go("verified", channel=verification_channel(verification))
            verification.refresh_from_db()
        return self._by_status(run, verification, expires_at)

    def _by_status(self, run, verification, expires_at: dt.datetime):
        """The verification's own status decides, whoever checked it (this node, the API, the
        page), and however a check on a finished one was answered."""
        from channels_app.services.verify import verification_channel

        status = verification.status
        if status == "approved":
            return go("verified", channel=verification_channel(verification))
        if status in ("failed", "canceled"):
            reason = "too many wrong codes" if status == "failed" else "verification canceled"
            return go("failed", reason=reason)
        if status == "expired" or run.now >= expires_at:
            return go("expired")
        return self._wait(run, expires_at, wrong_codes=verification.attempts)


NODE = OtpVerify()
