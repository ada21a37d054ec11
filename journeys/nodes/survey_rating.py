"""survey.rating: asks for a score (NPS 0-10 or CSAT 1-5), reads it from the reply, stores it
(context `rating`, an optional attribute, a `survey.rated` event) and exits by band: NPS
detractor / passive / promoter, CSAT unhappy / neutral / happy; `no_response` on timeout or
after three replies that are not a score; `failed` when the question could not be sent."""

import re

from .base import (
    MESSAGE_FORM,
    MESSAGE_PROPS,
    SECONDS,
    Node,
    check_message,
    go,
    message_request,
    obj,
    send,
    wait,
)
from .message_send import sent_exit

SCALES = {"nps": (0, 10), "csat": (1, 5)}
BANDS = {
    "nps": [("detractor", 0, 6), ("passive", 7, 8), ("promoter", 9, 10)],
    "csat": [("unhappy", 1, 2), ("neutral", 3, 3), ("happy", 4, 5)],
}
MAX_INVALID = 3


def parse_score(text: str, scale: str) -> int | None:
    low, high = SCALES[scale]
    m = re.search(r"\b(\d{1,2})\b", text or "")
    if not m:
        return None
    n = int(m.group(1))
    return n if low <= n <= high else None


class SurveyRating(Node):
    type = "survey.rating"
    category = "message"
    label = "Rating survey"
    icon = "star"
    help = "Asks for an NPS (0–10) or CSAT (1–5) score in the chat and branches on the band."
    schema = obj(
        {**MESSAGE_PROPS, "scale": {"type": "string", "enum": ["nps", "csat"]}, "timeout_s": SECONDS,
         "save_as": {"type": "string", "maxLength": 60}},
        ["scale", "template"],
    )  # fmt: skip
    form = (
        [{"name": "scale", "label": "Scale", "widget": "select", "options": ["nps", "csat"]}]
        + MESSAGE_FORM
        + [
            {"name": "timeout_s", "label": "Wait for an answer", "widget": "duration"},
            {"name": "save_as", "label": "Store the score in attribute", "widget": "attribute"},
        ]
    )
    purpose_from_journey = True
    defaults = {
        "scale": "csat",
        "template": {"en": "How did we do? Reply 1 (bad) to 5 (great)."},
        "timeout_s": 86400,
    }

    def title(self, config):
        return f"{str(config.get('scale') or 'csat').upper()} survey"

    def waiting_exits(self, config):
        return frozenset(self.exit_names(config)) - {"failed"}  # failed: the send, at once

    def exit_names(self, config):
        return [b[0] for b in BANDS.get(config.get("scale", "csat"), BANDS["csat"])] + [
            "no_response",
            "failed",
        ]

    def check(self, config, ctx):
        problems = check_message(config, ctx)
        if config.get("save_as"):
            problems += ctx.check_attribute(config["save_as"], "save_as", want="number")
        return problems

    def enter(self, run):
        return send(message_request(run, run.config, run.text("template")))

    def resume(self, run, signal):
        cfg = run.config
        if signal.kind == "sent":
            exit_, detail = sent_exit(signal.data)
            if exit_ == "failed":
                return go("failed", **detail)
            run.state["until"] = run.after(int(cfg.get("timeout_s", 86400))).isoformat()
            return wait("reply", until=run.after(int(cfg.get("timeout_s", 86400))))
        if signal.kind == "timeout":
            return go("no_response")
        scale = cfg["scale"]
        score = parse_score(signal.data.get("text", ""), scale)
        if score is None:
            run.state["invalid"] = run.state.get("invalid", 0) + 1
            if run.state["invalid"] >= MAX_INVALID:
                return go("no_response", reason="no score in the replies")
            import datetime as dt

            return wait(
                "reply", until=dt.datetime.fromisoformat(run.state["until"]), invalid=run.state["invalid"]
            )
        run.context["rating"] = score
        if cfg.get("save_as"):
            run.update_contact({"attributes": {cfg["save_as"]: score}})
        run.record_event(
            "survey.rated",
            {"scale": scale, "score": score, "journey_id": run.journey.pk, "node": run.node_id},
        )
        band = next(name for name, low, high in BANDS[scale] if low <= score <= high)
        return go(band, score=score)


NODE = SurveyRating()
