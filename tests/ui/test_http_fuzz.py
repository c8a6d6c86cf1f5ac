"""Seeded fuzzing of every HTTP surface: the JSON API, the export routes and Dash's callback
endpoint, through the Flask test client of the session's 1,500-customer demo app.

Each suite generates its malformed requests from `random.Random(seed)` (wrong types, huge,
tiny and non-finite numbers, huge integers, deep nesting, unicode, NUL and control
characters, wrong content types, bodies over the size limit, lists too long, unknown and
missing fields, bad export state, bad filter, sort and tenure values, malformed callback
bodies) and requires of every answer: no 5xx, no traceback, and for a 4xx a short body
(JSON where the route speaks JSON). A failure lists every offending case by kind.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest
from tests.ui.conftest import features_of



SEED = 20_260_611
API_CASES = 700
EXPORT_CASES = 500
CALLBACK_CASES = 300
BODY_LIMIT = 2 * 1024 * 1024        # the app's MAX_CONTENT_LENGTH
SHORT = 2048                        # longest acceptable error body, in bytes
CALLBACK_PATH = "/_dash-update-component"

WRONG_TYPES = ["abc", "", " ", "1,5", "0x1F", "--1", "1e", "١٢x", [], [1], {}, {"a": 1},
               True, False, None, "null", "true", "\u00a0"]
EXTREME_NUMBERS = [1e308, -1e308, 1.7e308, 1e19, -1e19, 1e18, 1e16, 5e-324, -5e-324, 1e-300,
                   -0.0, 2 ** 63, -(2 ** 63), 2 ** 64, 10 ** 20, 721, -1, 1e6, 3.5e4,
                   "1e308", "1e999", "-1e999", "nan", "inf", "-inf", "Infinity"]
RAW_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e309", "-1e309", "9" * 400, "-" + "9" * 400,
               "1" * 4301, "1" * 10_000, "0." + "0" * 500 + "1", "1" + "0" * 308 + ".5",
               "1E400", "00012", "+5", ".5", "5.", "0x10", "1_000"]
WEIRD_TEXT = ["\x00", "Two year\x00", "\x00Two year", "Two\x1fyear", "Two year\u202e",
              "𝕋wo year", "Two year\u0301", "\ufeffTwo year", "\u200b", "\x7f", "\r\n",
              "=1+1", "<script>x</script>", "ﾟ･✿ヾ╲(｡◕‿◕｡)╱✿･ﾟ", "\u2028", "a" * 5000,
              "\U0010ffff", "Ω" * 300, "../../etc/passwd", "%00", "' OR 1=1 --"]
RAW_TEXT = ['"\\ud800"', '"\\udfff"', '"a\\u0000b"', '"\\uDBFF\\uDFFF"', '"\\u0007"']


@dataclass
class Case:
    kind: str
    method: str
    path: str
    kwargs: dict = field(default_factory=dict)


def _json_body(text: str | bytes, content_type: str = "application/json") -> dict:
    return {"data": text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text,
            "content_type": content_type}


def _deep(depth: int, rng: random.Random) -> str:
    if rng.random() < 0.5:
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


def _strict_json(body: bytes):
    """Parse like a strict client: NaN and Infinity are not JSON."""
    def refuse(constant):
        raise ValueError(f"non-finite JSON number {constant}")
    return json.loads(body, parse_constant=refuse)


def _judge(response, json_route: bool) -> str | None:
    """What is wrong with an answer (None when it is acceptable)."""
    body = response.get_data()
    if response.status_code >= 500:
        return f"HTTP {response.status_code}: {body[:160]!r}"
    if b"Traceback" in body:
        return "traceback in the body"
    if 400 <= response.status_code < 500:
        if len(body) > SHORT:
            return f"{len(body)}-byte error body"
        if json_route:
            try:
                message = _strict_json(body)
            except ValueError:
                return f"error body is not JSON: {body[:120]!r}"
            if not isinstance(message, dict) or not isinstance(message.get("error"), str):
                return f"error JSON without an 'error' message: {body[:120]!r}"
    elif json_route and response.status_code == 200 and \
            response.mimetype == "application/json":
        try:
            _strict_json(body)
        except ValueError as exc:
            return f"invalid JSON answer: {exc}"
    return None


def _run(client, cases: list[Case], json_route) -> tuple[Counter, list[str]]:
    statuses: Counter = Counter()
    problems = []
    for case in cases:
        response = client.open(case.path, method=case.method, **case.kwargs)
        try:
            statuses[response.status_code] += 1
            problem = _judge(response, json_route(case))
            if problem is None and case.kind.startswith("valid") and \
                    response.status_code != 200:
                problem = f"a valid request refused: {response.get_data()[:160]!r}"
        finally:
            response.close()
        if problem:
            problems.append(f"{case.kind}: {problem}")
    return statuses, problems


def _report(name: str, cases: list[Case], statuses: Counter, problems: list[str]) -> str:
    kinds = Counter(c.kind.split(":")[0] for c in cases)
    bad = Counter(p.split(":")[0] for p in problems)
    server = Counter(p.split(":")[0] for p in problems if ": HTTP 5" in p)
    return (f"{name}: {len(cases)} cases {dict(sorted(kinds.items()))}; statuses "
            f"{dict(sorted(statuses.items()))}; {len(problems)} failures {dict(bad)}; "
            f"5xx by kind {dict(server)}:\n  " + "\n  ".join(problems[:40]))


# ----- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def record(svc):
    return features_of(svc, 3)


# ----- the JSON API -----------------------------------------------------------------------


def api_cases(rng: random.Random, record: dict, ranges: dict[str, tuple[float, float]],
              categorical: list[str], categories: dict[str, list[str]]) -> list[Case]:
    """`ranges`: each numeric feature's (min, max) in the data; up to 10x max is valid."""
    numeric = list(ranges)
    fields = list(record)

    def post(kind, payload=None, raw=None, content_type="application/json", **extra):
        if raw is None:
            raw = json.dumps(payload, allow_nan=True)
        return Case(kind, "POST", "/api/score", {**_json_body(raw, content_type), **extra})

    def in_range():
        """One numeric field at a value the app accepts: within the data, or up to ten
        times its largest magnitude."""
        name = rng.choice(numeric)
        low, high = ranges[name]
        return {name: rng.choice([low, high, round(rng.uniform(low, high), 2),
                                  2 * high, 10 * max(abs(low), abs(high))])}

    def with_raw(field_name, literal):
        """The record as JSON text with one field's value replaced by a raw literal."""
        body = dict(record, **{field_name: "__RAW__"})
        return json.dumps(body).replace('"__RAW__"', literal)

    makers = [
        lambda: post(f"type:{(f := rng.choice(fields))}",
                     dict(record, **{f: rng.choice(WRONG_TYPES)})),
        lambda: post(f"number:{(f := rng.choice(numeric))}",
                     dict(record, **{f: rng.choice(EXTREME_NUMBERS)})),
        lambda: post("rawnumber", raw=with_raw(rng.choice(numeric), rng.choice(RAW_NUMBERS))),
        lambda: post("rawnumber-category",
                     raw=with_raw(rng.choice(categorical), rng.choice(RAW_NUMBERS))),
        lambda: post("deep", raw=_deep(rng.choice([2_000, 10_000, 50_000]), rng)),
        lambda: post("deep-field", raw=with_raw(rng.choice(fields),
                                                _deep(rng.choice([50, 500, 990]), rng))),
        lambda: post("deep-list", raw="[" + _deep(rng.choice([100, 900, 3000]), rng) + "]"),
        lambda: post(f"unicode:{(f := rng.choice(categorical))}",
                     dict(record, **{f: rng.choice(categories[f]) + rng.choice(WEIRD_TEXT)})),
        lambda: post("unicode-raw", raw=with_raw(rng.choice(fields), rng.choice(RAW_TEXT))),
        lambda: post("control-field-name",
                     dict(record, **{rng.choice(WEIRD_TEXT) + rng.choice(fields): 1})),
        lambda: post("id", dict(record, customer_id=rng.choice(
            WEIRD_TEXT + [12, 1e308, [], {"a": 1}, True, "x" * 100_000]))),
        lambda: post("id-raw", raw=with_raw("customerID", rng.choice(RAW_TEXT + RAW_NUMBERS))),
        lambda: post("ctype", record, content_type=rng.choice(
            ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
             "application/xml", "", "application/json; charset=latin-1",
             "application/problem+json", "application/jsonx", "json"])),
        lambda: post("ctype-bytes", raw=rng.choice(
            [b"\xff\xfe{}", b"\x80\x81", "{\"tenure\": \"\xe9\"}".encode("latin-1"),
             b"\xef\xbb\xbf" + json.dumps(record).encode(), json.dumps(record).encode("utf-16"),
             b"\x00" * 64])),
        lambda: post("huge", raw=json.dumps(dict(record, tenure="9" * rng.choice(
            [BODY_LIMIT + 1, BODY_LIMIT * 2])))),
        lambda: post("huge-list", raw="[" + ",".join(["{}"] * rng.choice(
            [BODY_LIMIT // 3 + 1, BODY_LIMIT])) + "]"),
        lambda: post("near-limit", raw=json.dumps(dict(
            record, **{rng.choice(fields): "x" * (BODY_LIMIT - 10_000)}))),
        lambda: post("list-too-long", [{}] * rng.choice([1001, 5000, 20_000])),
        lambda: post("list-mixed", [record, rng.choice([1, "x", None, [], [record]]), record]),
        lambda: post("list-nested", [[record]]),
        lambda: post("unknown-field", dict(record, **{rng.choice(
            ["Shoe size", "tenure ", "Tenure", "__proto__", "constructor", "", " ",
             "x" * 10_000, "customer_id\x00"]): rng.choice([1, "a", None])})),
        lambda: post("missing", {k: v for k, v in record.items()
                                 if k not in rng.sample(fields, rng.randint(1, len(fields)))}),
        lambda: post("toplevel", raw=rng.choice(
            ["1", '"x"', "null", "true", "[]", "{}", "", " ", "[1]", "[null]", '{"a"',
             "{'tenure': 1}", "{}" * 3, "[{}", "\u0000", "NaN", "-Infinity", "1e999",
             json.dumps(record) + "garbage", json.dumps(record)[:-1]])),
        lambda: post("duplicate-keys", raw=json.dumps(record)[:-1] + ', "tenure": "abc"}'),
        lambda: Case("method", rng.choice(["GET", "PUT", "DELETE", "PATCH"]), "/api/score",
                     _json_body(json.dumps(record))),
        lambda: post("negative", dict(record, **{rng.choice(numeric): rng.choice(
            [-1, -1e-9, -1e308, "-5"])})),
        lambda: post("valid", dict(record, **in_range())),
        lambda: post("valid-list", [dict(record, tenure=rng.randint(0, 72))
                                    for _ in range(rng.randint(2, 5))]),
    ]
    return [rng.choice(makers)() for _ in range(API_CASES)]


def test_api_fuzz(client, svc, record):
    a = svc.analysis
    categories = {f: [str(c) for c in a.customers[f].cat.categories] for f in a.categorical}
    ranges = {f: (float(a.customers[f].min()), float(a.customers[f].max())) for f in a.numeric}
    cases = api_cases(random.Random(SEED), record, ranges, list(a.categorical), categories)
    statuses, problems = _run(client, cases, json_route=lambda case: True)
    assert len(cases) >= API_CASES and statuses[200] > 0 and statuses[400] > 0
    assert not problems, _report("POST /api/score", cases, statuses, problems)


# ----- the export routes ------------------------------------------------------------------


def export_cases(rng: random.Random, svc) -> list[Case]:
    options = svc.filter_options()
    # Filter key -> its values: the drivers (keyed by their source column), segment, tier.
    choices = {d["key"]: d["options"] for d in options["drivers"]}
    choices.update(segment=options["segment"], tier=options["tier"])
    ids = svc.ids()
    columns = list(svc.customers.grid_columns())
    one = {"customer_id": {"filterType": "text", "type": "equals",
                           "filter": str(ids[rng.randrange(len(ids))])}}

    def small():
        """A state that selects a customer or two, so a valid request stays cheap."""
        return {"filters": {}, "filterModel": {"customer_id": {
            "filterType": "text", "type": "equals", "filter": str(rng.choice(ids))}},
            "sortModel": []}

    def get(kind, state=None, raw=None, fmt=None, **extra):
        fmt = fmt or rng.choice(["csv", "xlsx"])
        if raw is None:
            raw = json.dumps(state, allow_nan=True)
        return Case(kind, "GET", f"/export/{fmt}?state={quote(raw, safe='')}", extra)

    def with_filters(kind, filters):
        return get(kind, dict(small(), filters=filters))

    def with_model(kind, model):
        return get(kind, dict(small(), filterModel={**one, **model}))

    def weird_value():
        return rng.choice(WRONG_TYPES + EXTREME_NUMBERS + WEIRD_TEXT)

    makers = [
        lambda: get("state-not-json", raw=rng.choice(
            ["not-json", "{", "{'filters': {}}", "", " ", "[", "{}}", "%", "\x00", "NaN",
             '{"filters": NaN}', '{"filters": {"tenure": [NaN, Infinity]}}', "1e999"])),
        lambda: get("state-not-object", raw=rng.choice(["null", "[]", "1", '"x"', "true",
                                                        "[{}]"])),
        lambda: get("state-deep", raw=_deep(rng.choice([2_000, 10_000, 50_000]), rng)),
        lambda: get("state-deep-inner", raw='{"filters": ' + _deep(rng.choice([100, 900]), rng)
                    + "}"),
        lambda: get("state-long", raw=json.dumps(dict(small(), pad="x" * rng.choice(
            [20_000, 200_000, BODY_LIMIT])))),
        lambda: get("state-unknown-key", dict(small(), **{rng.choice(
            ["filter", "sort", "x" * 500, "\x00", ""]): rng.choice([1, {}, None])})),
        lambda: get("state-bigint", raw='{"campaign": {"capacity": ' + rng.choice(
            ["9" * 400, "1" * 5000, "-" + "9" * 50]) + "}}"),
        lambda: with_filters("filters-type", rng.choice(["x", 1, [], [1, 2], True])),
        lambda: with_filters("filters-unknown-key", {rng.choice(
            ["color", "Contract", "tenure ", "\x00", "x" * 300]): ["a"]}),
        lambda: with_filters(f"filters-value:{(k := rng.choice(list(choices)))}",
                             {k: rng.choice([weird_value(), [weird_value()],
                                             [weird_value(), weird_value()],
                                             (choices[k] or ["x"])[:1] + ["\x00"],
                                             ["x"] * 500])}),
        lambda: with_filters("tenure-one-element", {"tenure": [rng.randint(0, 72)]}),
        lambda: with_filters("tenure-reversed", {"tenure": [60, rng.randint(0, 59)]}),
        lambda: with_filters("tenure-shape", {"tenure": rng.choice(
            [[], [1, 2, 3], "0-24", {"lo": 0, "hi": 5}, 5, True, [[0], [5]], [None, 5],
             ["a", "b"], [0, "24"], [True, False]])}),
        lambda: with_filters("tenure-number", {"tenure": [rng.choice(EXTREME_NUMBERS),
                                                          rng.choice(EXTREME_NUMBERS)]}),
        lambda: get("tenure-raw", raw='{"filters": {"tenure": [' + rng.choice(RAW_NUMBERS)
                    + ", " + rng.choice(RAW_NUMBERS) + ']}, "filterModel": '
                    + json.dumps(one) + "}"),
        lambda: with_filters("everyone", {"everyone": weird_value()}),
        lambda: get("filter-model-type", dict(small(), filterModel=rng.choice(
            ["x", [], 1, [one], True]))),
        lambda: with_model("filter-model-column", {rng.choice(
            ["nope", "", "\x00", "x" * 1000, "Contract"]): {"filterType": "text",
                                                          "type": "contains", "filter": "a"}}),
        lambda: with_model(f"filter-model-value:{(c := rng.choice(columns))}",
                           {c: rng.choice(["x", 1, None, [], {"type": weird_value()},
                                           {"filterType": "number", "type": "equals"}])}),
        lambda: with_model(f"filter-model-filter:{(c := rng.choice(columns))}", {c: {
            "filterType": rng.choice(["text", "number", "set", "date", None]),
            "type": rng.choice(["contains", "equals", "inRange", "lessThan", "startsWith",
                                "blank", "regex", "", None]),
            "filter": weird_value(), "filterTo": weird_value()}}),
        lambda: with_model("filter-model-range", {rng.choice(
            ["tenure_months", "clv", "churn_probability"]): {
            "filterType": "number", "type": "inRange",
            "filter": rng.choice([50, 1e308, -1e308]), "filterTo": rng.choice([1, 0, None])}}),
        lambda: with_model("filter-model-conditions", {rng.choice(columns): {
            "filterType": "text", "operator": rng.choice(["AND", "OR", "XOR", 1, None]),
            "conditions": rng.choice([
                "x", None, {}, [], [1, 2], [{"type": "contains", "filter": "a"}] * 500,
                [{"type": "contains", "filter": weird_value()}, {"type": weird_value()}]])}}),
        lambda: with_model("filter-text-control", {"customer_id": {
            "filterType": "text", "type": rng.choice(["contains", "equals", "startsWith"]),
            "filter": rng.choice(WEIRD_TEXT)}}),
        lambda: get("filter-text-surrogate", raw='{"filterModel": {"customer_id": '
                    '{"filterType": "text", "type": "contains", "filter": '
                    + rng.choice(RAW_TEXT) + "}}}"),
        lambda: get("sort-model", dict(small(), sortModel=rng.choice([
            "x", {}, 1, [1], ["churn_probability"], [{"colId": "nope", "sort": "asc"}],
            [{"colId": ["clv"], "sort": "asc"}], [{"colId": {"a": 1}}],
            [{"colId": "clv", "sort": "sideways"}], [{"colId": "clv", "sort": None}],
            [{"colId": c, "sort": "desc"} for c in columns] * 20, [None],
            [{"colId": "clv", "sort": weird_value()}]]))),
        lambda: get("campaign", dict(small(), campaign=rng.choice(
            ["x", 1, [], None, {}, {"capacity": weird_value()}, {"capacity": -5},
             {"capacity": 10 ** 30}, {"capacity": 1.5}, {"capacity": 3},
             {"capacity": 0}, {"capacity": None, "extra": 1}]))),
        lambda: get("format", small(), fmt=rng.choice(
            ["pdf", "CSV", "xls", "csv%00", "", "json", "xlsx.exe", "..%2Fapp.py", "\u00e9"])),
        lambda: Case("state-repeated", "GET", "/export/csv?state=" + quote(json.dumps(small()))
                     + "&state=" + quote("{bad")),
        lambda: Case("state-bad-escape", "GET", "/export/csv?state=%7B%ZZ%7D"),
        lambda: Case("method", rng.choice(["POST", "PUT", "DELETE"]), "/export/csv",
                     _json_body(json.dumps(small()))),
        lambda: Case("body-over-limit", "GET", "/export/csv?state=" + quote(json.dumps(small())),
                     {"data": b"x" * (BODY_LIMIT + 1)}),
        lambda: get("valid", small()),
        lambda: get("valid-empty", dict(small(), filters={"tier": ["High"], "tenure": [0, 0],
                                                          "Contract": ["Two year"]})),
    ]
    return [rng.choice(makers)() for _ in range(EXPORT_CASES)]


def test_export_fuzz(client, svc):
    cases = export_cases(random.Random(SEED + 1), svc)
    statuses, problems = _run(client, cases, json_route=lambda case: False)
    assert len(cases) >= EXPORT_CASES and statuses[200] > 0 and statuses[400] > 0
    assert not problems, _report("GET /export/<fmt>", cases, statuses, problems)


def test_a_handful_of_whole_list_exports(client, svc):
    """Real exports of the whole list (both formats, with a sort and a global filter)."""
    for fmt in ("csv", "xlsx"):
        for state in ({}, {"filters": {"Contract": ["Month-to-month"], "tenure": [0, 24]},
                           "sortModel": [{"colId": "clv", "sort": "asc"}]}):
            response = client.get(f"/export/{fmt}?state={quote(json.dumps(state))}")
            assert response.status_code == 200, response.get_data()[:200]
            assert len(response.get_data()) > 10_000
            response.close()


# ----- Dash's callback endpoint ------------------------------------------------------------


def callback_cases(rng: random.Random, dependencies: list[dict]) -> list[Case]:
    plain = [d for d in dependencies if "{" not in d["output"]]
    wildcard = [d for d in dependencies if "{" in d["output"]] or plain
    with_ids = [d for d in dependencies if any(s["property"] == "id" for s in d["state"])]

    def concrete(cid: str):
        """A component id matching a declared one (a pattern's wildcards filled in)."""
        if not cid.startswith("{"):
            return cid
        return {k: "x" if isinstance(v, list) else v for k, v in json.loads(cid).items()}

    def spec(item):
        """{"id", "property"} of a dependency item, as a matching component has them."""
        return {"id": concrete(item["id"]), "property": item["property"]}

    def outputs_of(dep):
        parts = [p for p in dep["output"].strip(".").split("...") if p]
        specs = []
        for part in parts:
            cid, _, prop = part.rpartition(".")
            one = {"id": concrete(cid), "property": prop.split("@")[0]}
            specs.append([one] if '["ALL"]' in cid else one)
        return specs[0] if len(specs) == 1 else specs

    def entry(item):
        """An input or state as the renderer sends it: a list for an ALL pattern."""
        one = dict(spec(item), value=None)
        if item["property"] == "id":
            one["value"] = one["id"]
        return [one] if '["ALL"]' in item["id"] else one

    def body_for(dep):
        return {"output": dep["output"], "outputs": outputs_of(dep),
                "inputs": [entry(i) for i in dep["inputs"]],
                "state": [entry(s) for s in dep["state"]],
                "changedPropIds": []}

    def post(kind, payload=None, raw=None, content_type="application/json"):
        if raw is None:
            raw = json.dumps(payload, allow_nan=True)
        return Case(kind, "POST", CALLBACK_PATH, _json_body(raw, content_type))

    def mutated(kind, change):
        body = body_for(rng.choice(dependencies))
        change(body)
        return post(kind, body)

    def junk():
        return rng.choice([None, 1, "x", [], {}, [1], [None], ["x"], {"a": 1}, True, -1e308,
                           [{"id": None}], [{"property": "value"}], [[1]], "\x00",
                           [{"id": {"type": []}, "property": "value"}]])

    makers = [
        lambda: post("empty-object", {}),
        lambda: post("not-json", raw=rng.choice(["", "x", "{", "{'output': 1}", "[", "\x00",
                                                 "{}garbage"])),
        lambda: post("not-object", raw=rng.choice(["[]", "1", '"x"', "null", "true", "[{}]"])),
        lambda: post("non-finite", raw='{"output": NaN, "inputs": [Infinity]}'),
        lambda: post("deep", raw=_deep(rng.choice([2_000, 10_000, 50_000]), rng)),
        lambda: post("deep-inputs", raw='{"output": ' + json.dumps(plain[0]["output"])
                     + ', "inputs": ' + _deep(rng.choice([200, 900]), rng) + "}"),
        lambda: post("huge", raw=json.dumps({"output": "x" * (BODY_LIMIT + rng.randint(1, 99))})),
        lambda: post("ctype", body_for(rng.choice(dependencies)), content_type=rng.choice(
            ["text/plain", "application/x-www-form-urlencoded", "", "multipart/form-data"])),
        lambda: mutated("missing-output", lambda b: b.pop("output")),
        lambda: mutated("unknown-output", lambda b: b.update(output=rng.choice(
            ["nope.children", "", "..x.y..", "\x00", "x" * 50_000, "..a.b...c.d..",
             plain[0]["output"] + "x", plain[0]["output"].upper()]))),
        lambda: mutated("output-type", lambda b: b.update(output=junk())),
        lambda: mutated("outputs-type", lambda b: b.update(outputs=rng.choice(
            ["x", 1, [1], [{"id": "x"}], {"id": "nope", "property": "children"},
             [{"id": None, "property": None}], {"property": "children"}]))),
        lambda: mutated("outputs-count", lambda b: b.update(outputs=(
            [b["outputs"]] * 3 if isinstance(b["outputs"], dict) else b["outputs"][:1]))),
        lambda: mutated("inputs-not-list", lambda b: b.update(inputs=rng.choice(
            ["x", 1, {"id": "x", "property": "value"}, None, True]))),
        lambda: mutated("inputs-items", lambda b: b.update(inputs=[junk()
                                                                   for _ in b["inputs"]])),
        lambda: mutated("inputs-count", lambda b: b.update(inputs=b["inputs"] * 2 + [
            {"id": "x", "property": "value", "value": 1}])),
        lambda: mutated("inputs-missing-keys", lambda b: b.update(inputs=[
            {k: v for k, v in (i[0] if isinstance(i, list) and i else i or {}).items()
             if k != rng.choice(["id", "property"])} for i in b["inputs"]])),
        lambda: mutated("state-not-list", lambda b: b.update(state=rng.choice(
            ["x", 1, {"id": "x"}, True]))),
        lambda: mutated("state-items", lambda b: b.update(state=[junk(), junk()])),
        lambda: mutated("changed-prop-ids", lambda b: b.update(changedPropIds=rng.choice(
            ["x", 1, [[]], [{}], [1], {"a": 1}]))),
        lambda: post("wildcard-shape", dict(body_for(rng.choice(wildcard)), outputs=[
            [{"id": {"type": "x", "feature": "y"}, "property": "value"}] * 3, "x"])),
        lambda: post("wildcard-ids", dict(body_for(rng.choice(wildcard)), inputs=[
            [{"id": rng.choice([{"type": []}, {}, "x", {"type": None}]), "property": "value",
              "value": 1}]])),
        lambda: post("id-value", _with_id_value(body_for(rng.choice(with_ids)), junk())),
        lambda: mutated("control-chars", lambda b: b.update(output=b["output"] + "\x00\x1f")),
        lambda: mutated("unicode-output", lambda b: b.update(output=rng.choice(WEIRD_TEXT))),
    ]
    return [rng.choice(makers)() for _ in range(CALLBACK_CASES)]


def _with_id_value(body: dict, value) -> dict:
    """`body` with the value of its first `id` state (the id itself, from the renderer)
    replaced: a callback that reads ids from state would get something else."""
    for item in body["state"]:
        for one in item if isinstance(item, list) else [item]:
            if one["property"] == "id":
                one["value"] = value
                return body
    return body


def test_callback_fuzz(client, app):
    dependencies = client.get("/_dash-dependencies").get_json()
    assert dependencies and all("output" in d for d in dependencies)
    cases = callback_cases(random.Random(SEED + 2), dependencies)
    statuses, problems = _run(client, cases, json_route=lambda case: True)
    assert len(cases) >= CALLBACK_CASES and statuses[400] > 0
    assert not problems, _report(f"POST {CALLBACK_PATH}", cases, statuses, problems)


# Well-formed callback bodies (the right ids and properties) whose values are forged.
JUNK_VALUES = (None, 1, "x", [], {}, [1], [None], ["x"], {"a": 1}, True, -1e308, "\x00",
               {"tier": 5}, {"tenure": "x"}, {"row": True, "current": []}, [[1]], 10 ** 30)
VALUE_ROUNDS = 8


def _concrete(cid: str):
    if not cid.startswith("{"):
        return cid
    return {k: "x" if isinstance(v, list) else v for k, v in json.loads(cid).items()}


def junk_value_bodies(rng: random.Random, dependencies: list[dict]) -> list[dict]:
    """For every callback, VALUE_ROUNDS bodies shaped as the renderer sends them, with every
    input and state value drawn from JUNK_VALUES (an `id` state keeps its own id)."""
    bodies = []
    for dep in dependencies:
        for _ in range(VALUE_ROUNDS):
            def entry(item):
                one = {"id": _concrete(item["id"]), "property": item["property"],
                       "value": rng.choice(JUNK_VALUES)}
                if item["property"] == "id":
                    one["value"] = one["id"]
                return [one] if '["ALL"]' in item["id"] else one
            specs = []
            for part in (p for p in dep["output"].strip(".").split("...") if p):
                cid, _, prop = part.rpartition(".")
                one = {"id": _concrete(cid), "property": prop.split("@")[0]}
                specs.append([one] if '["ALL"]' in cid else one)
            first = dep["inputs"][0] if dep["inputs"] else None
            bodies.append({"output": dep["output"],
                           "outputs": specs[0] if len(specs) == 1 else specs,
                           "inputs": [entry(i) for i in dep["inputs"]],
                           "state": [entry(s) for s in dep["state"]],
                           "changedPropIds": [f"{first['id']}.{first['property']}"]
                           if first else []})
    return bodies


def test_callbacks_refuse_forged_values_with_a_4xx(client):
    dependencies = client.get("/_dash-dependencies").get_json()
    bodies = junk_value_bodies(random.Random(SEED + 3), dependencies)
    assert len(bodies) >= 200
    statuses, problems = Counter(), []
    for body in bodies:
        response = client.post(CALLBACK_PATH, json=body)
        statuses[response.status_code] += 1
        text = response.get_data(as_text=True)
        if response.status_code >= 500 or "Traceback" in text:
            problems.append(f"{response.status_code} for {body['output'][:60]}: {text[:120]}")
        elif response.status_code >= 400 and len(text) > 2048:
            problems.append(f"a {len(text)}-byte error body for {body['output'][:60]}")
    assert statuses[400] > 0 and not problems, (dict(statuses), problems[:10])
