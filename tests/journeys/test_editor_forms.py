"""The configuration panel's row sub-forms (rules, branches, variants, key/values, options, the
JSON body): what they render, what a posted form reads back as, row-level errors that keep what
was typed, and config -> form -> config for every node of every template journey."""

import json
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from cpaas.tenancy import Actor
from journeys.services import journey_create
from journeys.templates_catalogue import TEMPLATES, template_graph
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


class FormScraper(HTMLParser):
    """What a browser would post for the form: named controls outside <template>s."""

    def __init__(self):
        super().__init__()
        self.data: list[tuple[str, str]] = []
        self.labels: set[str] = set()
        self.ids: set[str] = set()
        self.controls: list[str] = []  # ids of visible controls, for the label check
        self._template = 0
        self._select = None
        self._options: list[tuple[str, bool]] = []
        self._textarea = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "template":
            self._template += 1
        if self._template:
            return
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "label" and a.get("for"):
            self.labels.add(a["for"])
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind == "checkbox":
                if "checked" in a:
                    self.data.append((a["name"], "on"))
            else:
                self.data.append((a["name"], a.get("value") or ""))
            if kind != "hidden":
                self.controls.append(a.get("id") or "")
        elif tag == "select" and a.get("name"):
            self._select, self._options = a["name"], []
            self.controls.append(a.get("id") or "")
        elif tag == "option" and self._select:
            self._options.append((a.get("value", ""), "selected" in a))
        elif tag == "textarea" and a.get("name"):
            self._textarea, self._text = a["name"], ""

    def handle_endtag(self, tag):
        if tag == "template":
            self._template -= 1
        if self._template:
            return
        if tag == "select" and self._select:
            chosen = [v for v, s in self._options if s] or [v for v, _ in self._options[:1]]
            self.data.append((self._select, chosen[0] if chosen else ""))
            self._select = None
        elif tag == "textarea" and self._textarea:
            self.data.append((self._textarea, self._text))
            self._textarea = None

    def handle_data(self, data):
        if self._textarea and not self._template:
            self._text += data


def scrape(html: str) -> FormScraper:
    parser = FormScraper()
    parser.feed(html)
    return parser


def as_post(pairs) -> dict:
    out: dict = {}
    for k, v in pairs:
        out.setdefault(k, []).append(v)
    return out


@pytest.fixture
def journey(workspace, marketer):
    return journey_create(workspace=workspace, actor=Actor.for_user(marketer), name="Forms")


@pytest.fixture
def panel(journey, marketer):
    client = client_for(marketer)
    url = reverse("editor_node_form", args=[journey.pk])

    def _panel(type_, config, form=None, **extra):
        data = {"type": type_, "node": "n1", "config": json.dumps(config), **extra}
        if form is not None:
            data.update(form, apply="1")
        response = client.post(url, data)
        assert response.status_code == 200
        html = response.content.decode()
        return html, json.loads(response.context["config_json"]), response.context

    return _panel


def round_trip(panel, type_, config):
    html, _, _ = panel(type_, config)
    posted = as_post(scrape(html).data)
    _, out, ctx = panel(type_, config, posted)
    return out, ctx


# --- rendering --------------------------------------------------------------------------------


RULES = {
    "rules": [
        {"exit": "vip", "match": "any", "conditions": [
            {"source": "tag", "op": "has", "value": "vip"},
            {"source": "field", "key": "language", "op": "eq", "value": "fr"}]},
        {"exit": "reachable", "conditions": [
            {"source": "consent", "op": "allowed", "channel": "whatsapp", "purpose": "marketing"},
            {"source": "channel", "op": "available", "channel": "sms"}]},
    ]
}  # fmt: skip


def test_rules_render_as_rows_of_conditions_with_subject_operator_and_value(panel):
    html, _, _ = panel("split.condition", RULES)
    form = scrape(html)
    posted = dict(form.data)
    assert "<textarea" not in html.split("<template")[0] or 'name="cfg-rules"' not in html
    assert posted["cfg-rules-0-exit"] == "vip" and posted["cfg-rules-0-match"] == "any"
    assert posted["cfg-rules-0-c-0-source"] == "tag" and posted["cfg-rules-0-c-0-value"] == "vip"
    assert posted["cfg-rules-0-c-1-key"] == "language" and posted["cfg-rules-0-c-1-op"] == "eq"
    assert (
        posted["cfg-rules-1-c-0-channel"] == "whatsapp" and posted["cfg-rules-1-c-0-purpose"] == "marketing"
    )
    assert ">Consent status<" in html and ">Channel availability<" in html and ">Event property<" in html
    # the operator select of a tag condition offers only what a tag takes
    tag_ops = html.split('id="cfg-rules-0-c-0-op"')[1].split("</select>")[0]
    assert "has the tag" in tag_ops and "is greater than" not in tag_ops
    assert "Rule 2" in html and 'aria-label="Move rule 2 up"' in html
    assert "<template data-row-template>" in html and "<template data-condition-template>" in html


def test_every_control_of_every_sub_form_has_a_label(panel):
    samples = [
        ("split.condition", RULES),
        ("message.ask", {"template": {"en": "?"}, "timeout_s": 60, "buttons": ["Yes"],
                         "branches": [{"exit": "n", "match": "number", "min": 1, "max": 5}]}),
        ("split.ab", {"variants": [{"exit": "a", "weight": 50}, {"exit": "b", "weight": 50}]}),
        ("webhook.call", {"method": "POST", "url": "https://x.test", "headers": {"X-A": "1"},
                          "map": {"status": "order.status"}, "body": {"a": 1}}),
    ]  # fmt: skip
    for type_, config in samples:
        form = scrape(panel(type_, config)[0])
        unlabelled = [c for c in form.controls if c not in form.labels and c not in ("node-label",)]
        # the merge-field picker is labelled by its wrapping <label>
        assert [c for c in unlabelled if c] == [], type_


def test_branches_variants_options_keyvalue_and_json_render_as_rows(panel):
    html, _, _ = panel(
        "message.ask",
        {"template": {"en": "Rate 1-5"}, "timeout_s": 60,
         "quick_replies": ["Yes", {"id": "no", "title": "No thanks"}],
         "branches": [{"exit": "yes", "match": "keywords", "values": ["yes", "y"]},
                      {"exit": "score", "match": "number", "min": 1, "max": 5},
                      {"exit": "code", "match": "regex", "pattern": "^[A-Z]{3}$"}]},
    )  # fmt: skip
    posted = dict(scrape(html).data)
    assert posted["cfg-branches-0-values"] == "yes, y"
    assert posted["cfg-branches-1-match"] == "number" and posted["cfg-branches-1-min"] == "1"
    assert posted["cfg-branches-2-pattern"] == "^[A-Z]{3}$"
    assert posted["cfg-quick_replies-0-title"] == "Yes" and posted["cfg-quick_replies-0-id"] == ""
    assert posted["cfg-quick_replies-1-id"] == "no" and "Quick reply 2" in html
    assert "'other' (no branch matched) and 'timeout'" in html

    html, _, _ = panel(
        "webhook.call",
        {"method": "POST", "url": "https://x.test", "map": {"status": "order.status"}, "body": {"id": 1}},
    )
    posted = dict(scrape(html).data)
    assert posted["cfg-map-0-key"] == "status" and posted["cfg-map-0-value"] == "order.status"
    assert ">Context variable<" in html and ">Response path<" in html and "←" in html
    assert "data-json-check" in html and "data-merge" in html.split('data-field="body"')[1]

    html, _, _ = panel("split.ab", {"variants": [{"exit": "a", "weight": 70}, {"exit": "b", "weight": 30}]})
    posted = dict(scrape(html).data)
    assert posted["cfg-variants-1-weight"] == "30" and "data-weight-total" in html


# --- parsing ----------------------------------------------------------------------------------


def rows(prefix, *items):
    data = {f"{prefix}-rows": "1"}
    for i, item in enumerate(items):
        for part, value in item.items():
            data[f"{prefix}-{i}-{part}"] = value
    return data


def test_rules_are_read_back_in_order_with_conditions_and_the_exits_follow(panel):
    form = {
        "cfg-rules-rows": "1",
        # indices as posted after a move: order comes from the numbers, gaps are fine
        "cfg-rules-0-exit": "Big Spender", "cfg-rules-0-match": "all",
        "cfg-rules-0-c-0-source": "attribute", "cfg-rules-0-c-0-key": "first_name",
        "cfg-rules-0-c-0-op": "is_set", "cfg-rules-0-c-0-value": "",
        "cfg-rules-3-exit": "french", "cfg-rules-3-match": "any",
        "cfg-rules-3-c-0-source": "field", "cfg-rules-3-c-0-key": "language", "cfg-rules-3-c-0-op": "eq",
        "cfg-rules-3-c-0-value": "fr",
        "cfg-rules-3-c-2-source": "consent", "cfg-rules-3-c-2-op": "denied", "cfg-rules-3-c-2-channel": "sms",
        "cfg-rules-3-c-2-purpose": "",
        # a blank rule someone added and never filled is ignored
        "cfg-rules-4-exit": "", "cfg-rules-4-c-0-source": "attribute", "cfg-rules-4-c-0-op": "",
    }  # fmt: skip
    _, config, ctx = panel("split.condition", RULES, form)
    assert config["rules"] == [
        {"exit": "big_spender", "conditions": [{"source": "attribute", "key": "first_name", "op": "is_set"}]},
        {"exit": "french", "match": "any", "conditions": [
            {"source": "field", "key": "language", "op": "eq", "value": "fr"},
            {"source": "consent", "op": "denied", "channel": "sms"}]},
    ]  # fmt: skip
    assert ctx["exits"] == ["big_spender", "french", "else"]


def test_rule_errors_name_the_row_and_keep_what_was_typed(panel):
    form = {
        "cfg-rules-rows": "1",
        "cfg-rules-0-exit": "vip", "cfg-rules-0-c-0-source": "tag", "cfg-rules-0-c-0-op": "has",
        "cfg-rules-0-c-0-value": "vip",
        "cfg-rules-1-exit": "rich", "cfg-rules-1-c-0-source": "attribute", "cfg-rules-1-c-0-key": "balance",
        "cfg-rules-1-c-0-op": "", "cfg-rules-1-c-0-value": "1000",
        "cfg-rules-2-exit": "2much", "cfg-rules-2-c-0-source": "channel", "cfg-rules-2-c-0-op": "available",
        "cfg-rules-2-c-0-channel": "", "cfg-rules-2-c-1-source": "tag", "cfg-rules-2-c-1-op": "gt",
        "cfg-rules-2-c-1-value": "x",
    }  # fmt: skip
    html, config, _ = panel("split.condition", RULES, form)
    assert config == RULES  # nothing half-read is taken
    assert "Rule 2: choose an operator." in html
    row2 = html.split('id="cfg-rules-1-exit"')[1].split('id="cfg-rules-2-exit"')[0]
    assert "Rule 2: choose an operator." in row2  # shown on its row
    assert "Rule 3: the exit name must start with a letter" in html
    assert "Rule 3, condition 1: choose a channel." in html
    assert "Rule 3, condition 2: &#x27;is greater than&#x27; does not apply to a tag." in html
    posted = dict(scrape(html).data)  # the rows as typed, not the old config
    assert posted["cfg-rules-1-exit"] == "rich" and posted["cfg-rules-1-c-0-value"] == "1000"
    assert posted["cfg-rules-2-exit"] == "2much" and posted["cfg-rules-2-c-1-op"] == "gt"


def test_schema_and_check_problems_of_a_rule_name_the_rule(panel):
    form = rows("cfg-rules", {"exit": "vip", "c-0-source": "tag", "c-0-op": "has", "c-0-value": "vip"},
                {"exit": "else", "c-0-source": "field", "c-0-key": "shoe_size", "c-0-op": "eq", "c-0-value": "9"})  # fmt: skip
    html, config, _ = panel("split.condition", RULES, form)
    assert config["rules"][1]["exit"] == "else"
    assert "Rule 2: &#x27;else&#x27; is the built-in exit." in html
    assert "Rule 2: Unknown contact field &#x27;shoe_size&#x27;." in html


def test_branches_read_back_each_kind_with_row_errors(panel):
    config = {"template": {"en": "?"}, "timeout_s": 60}
    form = rows(
        "cfg-branches",
        {"exit": "yes", "match": "keywords", "values": "yes, y ,", "min": "", "max": "", "pattern": ""},
        {"exit": "low", "match": "number", "values": "", "min": "0", "max": "6.5", "pattern": ""},
        {"exit": "chip", "match": "quick_reply", "values": "btn_1"},
        {"exit": "code", "match": "regex", "pattern": r"^\d{4}$"},
    )
    _, out, ctx = panel("message.ask", config, form)
    assert out["branches"] == [
        {"exit": "yes", "match": "keywords", "values": ["yes", "y"]},
        {"exit": "low", "match": "number", "min": 0, "max": 6.5},
        {"exit": "chip", "match": "quick_reply", "values": ["btn_1"]},
        {"exit": "code", "match": "regex", "pattern": r"^\d{4}$"},
    ]
    assert ctx["exits"] == ["yes", "low", "chip", "code", "other", "timeout", "failed"]

    bad = rows(
        "cfg-branches",
        {"exit": "yes", "match": "keywords", "values": " , "},
        {"exit": "mid", "match": "number", "min": "9", "max": "two"},
        {"exit": "hi", "match": "number", "min": "9", "max": "3"},
        {"exit": "re", "match": "regex", "pattern": "(unclosed"},
        {"exit": "what", "match": ""},
    )
    html, out, _ = panel("message.ask", config, bad)
    assert "branches" not in out
    for message in ("Branch 1: list at least one keyword.", "Branch 2: max is not a number.",
                    "Branch 3: the minimum is greater than the maximum.", "Branch 4: the pattern is not valid",
                    "Branch 5: choose what to match."):  # fmt: skip
        assert message in html
    assert dict(scrape(html).data)["cfg-branches-1-max"] == "two"


def test_variants_weights_and_duplicate_names(panel):
    _, out, ctx = panel(
        "split.ab", {}, rows("cfg-variants", {"exit": "A", "weight": "60", "name": " Friendly ", "control": "on"},
                             {"exit": "b", "weight": "40 %"}),
    )  # fmt: skip
    assert out["variants"] == [{"exit": "a", "weight": 60, "name": "Friendly", "control": True},
                               {"exit": "b", "weight": 40}]  # fmt: skip
    assert ctx["exits"] == ["a", "b"]
    # every experiment compares with one control: none, or two, is said on the field
    html, out, _ = panel(
        "split.ab", {}, rows("cfg-variants", {"exit": "a", "weight": "50"}, {"exit": "b", "weight": "50"})
    )
    assert "Mark one variant as the control: the one the others are compared with." in html
    html, out, _ = panel("split.ab", {}, rows("cfg-variants", {"exit": "a", "weight": "50", "control": "on"},
                                              {"exit": "b", "weight": "50", "control": "on"}))  # fmt: skip
    assert "Variant 2: only one variant can be the control (variant 1 is)." in html
    html, out, _ = panel(
        "split.ab", {}, rows("cfg-variants", {"exit": "a", "weight": "half"}, {"exit": "a", "weight": "5"})
    )
    assert "Variant 1: the weight is a whole number from 0 to 1000." in html
    assert "Variant 2: &#x27;a&#x27; is already the name of another variant." in html
    html, out, _ = panel(
        "split.ab",
        {},
        rows("cfg-variants", {"exit": "a", "weight": "0", "control": "on"}, {"exit": "b", "weight": "0"}),
    )
    assert "The weights add up to 0; they must add up to 100." in html


def test_keyvalue_rows_keep_value_types_and_name_bad_rows(panel):
    config = {"event": "purchase", "filter": {"plan": "pro", "count": 3, "tier": ["a", "b"]}}
    html, _, _ = panel("goal", config)
    posted = scrape(html).data
    assert ("cfg-filter-1-value", "3") in posted and ("cfg-filter-1-vtype", "json") in posted
    form = {**as_post(posted), "cfg-filter-3-key": ["country"], "cfg-filter-3-value": ["FR"]}
    _, out, _ = panel("goal", config, form)
    assert out["filter"] == {"plan": "pro", "count": 3, "tier": ["a", "b"], "country": "FR"}

    bad = rows(
        "cfg-filter",
        {"key": "plan", "value": "pro"},
        {"key": "", "value": "x"},
        {"key": "plan", "value": "y"},
    )
    html, out, _ = panel("goal", config, bad)
    assert out["filter"] == config["filter"]
    assert (
        "Property 2: enter the event property." in html
        and "Property 3: &#x27;plan&#x27; is already used." in html
    )
    # every row removed: the filter goes
    _, out, _ = panel("goal", config, {"cfg-filter-rows": "1"})
    assert "filter" not in out


def test_options_rows_and_webhook_body_json_errors_with_line_and_column(panel):
    config = {"template": {"en": "Hi"}}
    form = rows(
        "cfg-buttons", {"id": "", "title": "Yes"}, {"id": "no", "title": "No"}, {"id": "x", "title": ""}
    )
    html, out, _ = panel("message.send", config, form)
    assert "Button 3: enter the text shown." in html and "buttons" not in out
    form = rows("cfg-buttons", {"id": "", "title": "Yes"}, {"id": "no", "title": "No"})
    _, out, _ = panel("message.send", config, form)
    assert out["buttons"] == ["Yes", {"id": "no", "title": "No"}]

    hook = {"method": "POST", "url": "https://x.test", "body": {"a": 1}}
    typed = '{\n  "name": "{{contact.first_name}}",\n  "id": 4\n  "x": 1\n}'
    html, out, _ = panel("webhook.call", hook, {"cfg-body": typed})
    assert out["body"] == {"a": 1}
    assert "Not valid JSON: Expecting &#x27;,&#x27; delimiter (line 4, column 3)." in html
    assert "&quot;id&quot;: 4\n  &quot;x&quot;: 1" in html  # the text stays as typed
    _, out, _ = panel("webhook.call", hook, {"cfg-body": '{"name": "{{contact.first_name}}"}'})
    assert out["body"] == {"name": "{{contact.first_name}}"}


# --- round trip -------------------------------------------------------------------------------


def template_nodes():
    for key in TEMPLATES:
        for nid in TEMPLATES[key]()["graph"]["nodes"]:
            yield pytest.param(key, nid, id=f"{key}:{nid}")


@pytest.mark.parametrize(("key", "nid"), list(template_nodes()))
def test_config_form_config_round_trip_for_every_template_node(panel, workspace, key, nid):
    node = template_graph(key, workspace=workspace)["graph"]["nodes"][nid]
    out, _ = round_trip(panel, node["type"], node["config"])
    assert out == node["config"]


def test_round_trip_of_every_sub_form_shape(panel):
    samples = [
        ("split.condition", RULES),
        ("message.ask", {"template": {"en": "?"}, "timeout_s": 60, "buttons": ["Yes", {"id": "n", "title": "No"}],
                         "branches": [{"exit": "a", "match": "number", "min": 1.5}, {"exit": "b", "match": "regex", "pattern": "x"},
                                      {"exit": "c", "match": "quick_reply", "values": ["q1", "q2"]}]}),
        ("split.ab", {"experiment": "x", "variants": [{"exit": "a", "weight": 1}, {"exit": "b", "weight": 0}]}),
        ("contact.update", {"attributes": {"score": 3, "vip": True, "note": "{{context.x}}", "gone": None}}),
        ("webhook.call", {"method": "PUT", "url": "https://x.test", "headers": {"X-Key": "k"},
                          "body": [{"a": "{{event.id}}"}], "map": {"status": "a.b"}}),
        ("wait.event", {"event": "purchase", "timeout_s": 60, "match": {"cart_id": "{{event.cart_id}}"}}),
    ]  # fmt: skip
    for type_, config in samples:
        assert round_trip(panel, type_, config)[0] == config, type_


def test_pickers_offer_tags_event_properties_and_context_variables_the_workspace_knows(
    panel, journey, workspace, contact
):
    from contacts.models import Tag
    from contacts.services import event_record
    from journeys.services import draft_save

    Tag.objects.create(workspace=workspace, name="gold-tier")
    event_record(workspace=workspace, contact=contact, name="cart_abandoned", properties={"cart_id": "c1"})
    draft_save(
        journey=journey,
        actor=Actor.system(),
        graph={"nodes": {"w": {"type": "webhook.call", "config": {"map": {"order_state": "order.status"}}}}},
    )
    html, _, ctx = panel("split.condition", RULES)
    assert ctx["choices"]["tags"] == ["gold-tier"]
    assert "cart_id" in ctx["choices"]["event_properties"]
    assert {"order_state", "last_reply"} <= set(ctx["choices"]["context_variables"])
    assert '<option value="gold-tier">' in html and '<option value="order_state">' in html
    # the tag condition's value input uses the tags list
    assert 'list="cfg-rules-tags"' in html
    html, _, _ = panel("wait.event", {"event": "cart_abandoned", "timeout_s": 60})
    assert '<option value="cart_id">' in html
