"""webhook.call: call your system over HTTP(S) with a JSON body built from merge fields; map
fields of the JSON answer into the context. The call happens after the step's transaction
commits, never inside it; idempotent methods are retried. Exits: success (2xx), failure."""

from .base import Node, go, obj, short, wait

IDEMPOTENT = {"GET", "HEAD", "PUT", "DELETE"}
LEASE_S = 30


class WebhookCall(Node):
    type = "webhook.call"
    category = "action"
    label = "Call a webhook"
    icon = "webhook"
    help = "Calls a URL (timeout up to 10 s, retries for GET/PUT/DELETE) and maps answer fields into the context."
    schema = obj(
        {
            "method": {"type": "string", "enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]},
            "url": {"type": "string", "pattern": "^https?://", "maxLength": 2000},
            "headers": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 1000}},
            "body": {},
            "timeout_s": {"type": "number", "exclusiveMinimum": 0, "maximum": 10},
            "retries": {"type": "integer", "minimum": 0, "maximum": 3},
            "map": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 200}},
        },
        ["method", "url"],
    )
    form = [
        {
            "name": "method",
            "label": "Method",
            "widget": "select",
            "options": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"],
        },
        {"name": "url", "label": "URL", "widget": "text", "required": True, "help": "Merge fields allowed."},
        {
            "name": "headers",
            "label": "Headers",
            "widget": "keyvalue",
            "row_label": "Header",
            "key_label": "Header name",
            "value_label": "Value",
        },  # fmt: skip
        {
            "name": "body",
            "label": "JSON body",
            "widget": "json",
            "help": "A JSON template: merge fields inside strings are filled in before sending.",
        },  # fmt: skip
        {"name": "timeout_s", "label": "Timeout (≤ 10 s)", "widget": "number"},
        {"name": "retries", "label": "Retries (idempotent methods)", "widget": "number"},
        {
            "name": "map",
            "label": "Answer into context",
            "widget": "keyvalue",
            "row_label": "Mapping",
            "key_label": "Context variable",
            "key_choices": "context_variables",
            "value_label": "Response path",
            "arrow": "←",
            "help": "Each context variable gets the value at that path of the JSON answer, e.g. order.status; use it later as {{context.variable}}.",
        },
    ]
    exits = ("success", "failure")
    defaults = {"method": "POST", "url": "https://example.com/hook", "timeout_s": 5, "retries": 0}

    # no waiting exit: the answer comes back as soon as the other side replies (milliseconds),
    # so a loop through a webhook alone would go round at that pace

    def title(self, config):
        host = str(config.get("url") or "").split("://", 1)[-1].split("/", 1)[0]
        return f"Call {short(host, 22)}" if host else self.label

    def check(self, config, ctx):
        problems = ctx.check_merge_fields(config.get("url"), "url") + ctx.check_merge_fields(
            config.get("body"), "body"
        )
        if config.get("retries") and config.get("method", "POST") not in IDEMPOTENT:
            problems.append(("retries", f"{config.get('method')} is not idempotent: it is never retried."))
        return problems

    def _request(self, run) -> dict:
        cfg = run.config
        return {
            "method": cfg.get("method", "POST"),
            "url": run.render(cfg["url"]),
            "headers": {k: run.render(v) for k, v in (cfg.get("headers") or {}).items()},
            "body": run.render(cfg["body"]) if "body" in cfg else None,
            "timeout_s": float(cfg.get("timeout_s", 5)),
            "retries": int(cfg.get("retries", 0)) if cfg.get("method", "POST") in IDEMPOTENT else 0,
        }

    def _deadline(self, run, req: dict):
        return run.after(int(req["timeout_s"] * (req["retries"] + 1)) + LEASE_S)

    def enter(self, run):
        req = self._request(run)
        run.state.update({"request": req, "attempt": 1})
        return wait("webhook", until=self._deadline(run, req), url=req["url"][:200])

    def resume(self, run, signal):
        req = run.state.get("request") or self._request(run)
        if signal.kind == "timeout":  # the worker calling it stopped before recording the answer
            if req["method"] in IDEMPOTENT and run.state.get("attempt", 1) <= req["retries"]:
                run.state["attempt"] = run.state.get("attempt", 1) + 1
                return wait("webhook", until=self._deadline(run, req), retry=run.state["attempt"])
            return go("failure", reason="no answer recorded (outcome unknown)")
        data = signal.data
        status = data.get("status")
        run.context["webhook"] = {"status": status, "json": data.get("json")}
        if data.get("error") or not status or not 200 <= int(status) < 300:
            return go("failure", status=status, reason=(data.get("error") or f"HTTP {status}")[:200])
        answer = data.get("json")
        for var, path in (run.config.get("map") or {}).items():
            value = answer
            for part in [p for p in path.split(".") if p]:
                value = value.get(part) if isinstance(value, dict) else None
            run.context[var] = value
        return go("success", status=status)


NODE = WebhookCall()
