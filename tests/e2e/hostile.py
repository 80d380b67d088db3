#!/usr/bin/env python3
"""Hostile input for every operation of docs/openapi.json (tests/e2e/41-hostile.sh).

Generated from the document: for every operation, every body field and every query
parameter, values of the wrong type, edges (empty, the limit, one past it, in characters
and in bytes of UTF-8), awkward unicode, oversize, and whole bodies that are not what the
route takes (broken JSON, duplicate keys, '$'-prefixed and dotted keys at any depth, deep
nesting, other content types).  Every request is made so that it cannot change anything
when the API is right: ids in paths name nothing, a creating body lacks a required field
(or names things that do not exist).  Prints one JSON line per finding, then a summary:

  {"bad": "5xx" | "shape", "method", "path", "case", "status", "body"}
  {"summary": true, "requests": N, "statuses": {...}}

usage: hostile.py SPEC BASE_URL ADMIN_TOKEN CUSTOMER_TOKEN
"""
import http.client
import json
import sys
import time
import urllib.parse

SPEC, BASE, ADMIN, CUSTOMER = sys.argv[1:5]
FAKE = "0123456789abcdef01234567"
url = urllib.parse.urlsplit(BASE)

conn = None


def send(method, path, body=None, ctype="application/json", token=ADMIN, headers=None):
    """One request over a kept connection; (status, body bytes). 429 is waited out."""
    global conn
    h = {"Accept": "application/json"}
    if token:
        h["Authorization"] = "Bearer " + token
    if body is not None:
        h["Content-Type"] = ctype
    h.update(headers or {})
    for attempt in range(200):
        try:
            if conn is None:
                conn = http.client.HTTPConnection(url.hostname, url.port, timeout=15)
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            data = r.read()
            if r.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except (http.client.HTTPException, OSError):
            if conn is not None:
                conn.close()
            conn = None
            if attempt < 2:
                continue
            return 0, b"connection failed"
        # nginx's per-address limit on register and login: wait until it lets us through.
        if r.status == 429 and b"rate_limited" in data and attempt < 199:
            time.sleep(0.2)
            continue
        return r.status, data
    return 429, data


spec = json.load(open(SPEC))
schemas = spec["components"]["schemas"]


def resolve(s):
    while "$ref" in s:
        s = schemas[s["$ref"].split("/")[-1]]
    return s


def sample(s):
    """A valid value of schema s (the smallest)."""
    s = resolve(s)
    t = s.get("type")
    if isinstance(t, list):
        t = [x for x in t if x != "null"][0]
    if "enum" in s:
        return s["enum"][0]
    if t == "string":
        if s.get("pattern", "").startswith("^[0-9a-f"):
            return FAKE
        if s.get("format") == "email":
            return "hostile@x.example"
        if s.get("pattern") == "^[A-Z]{3}$":
            return "EUR"
        if s.get("pattern", "").startswith("^pm_"):
            return "pm_card_visa"
        return "x" * max(s.get("minLength", 0), 8 if "password" in json.dumps(s) else 1)
    if t == "integer":
        return max(s.get("minimum", 0), 1) if s.get("minimum", 0) <= 1 <= s.get("maximum", 1 << 40) else s.get("minimum", 0)
    if t == "boolean":
        return True
    if t == "array":
        n = max(s.get("minItems", 0), 1)
        return [sample(s["items"]) for _ in range(n)]
    if t == "object":
        return {k: sample(v) for k, v in s.get("properties", {}).items() if k in s.get("required", [])}
    return None


def string_cases(s, valid_base):
    """Values for a string field: (name, value, raw JSON text or None)."""
    lo, hi = s.get("minLength", 0), s.get("maxLength", 64)
    email = s.get("format") == "email"
    pad = (lambda body: body + "@x.example") if email else (lambda body: body)
    fill = lambda ch, n: pad(ch * max(n - (10 if email else 0), 0))
    out = [
        ("int", 123), ("float", 1.5), ("bool", True), ("null", None), ("array", [valid_base]),
        ("object", {"$gt": ""}), ("empty", ""),
        ("max chars", fill("a", hi)), ("max+1 chars", fill("a", hi + 1)),
        ("max chars of 2 bytes", fill("é", hi)), ("max+1 chars of 2 bytes", fill("é", hi + 1)),
        ("max chars of 4 bytes", fill("🍕", hi)), ("max+1 chars of 4 bytes", fill("🍕", hi + 1)),
        ("over the bytes", fill("é", min(hi, 300))),
        ("oversize 100 KB", "a" * 100000),
        ("control and format characters", pad("a\u0001\u202e\u200b\ufeffb")),
        ("NUL escaped", None, '"a\\u0000b"'),
        ("lone surrogate escaped", None, '"a\\ud800b"'),
        ("surrogate pair escaped", None, '"' + "\\ud83c\\udf55" * max(lo, 1) + '"'),
        ("dollar value", pad("$where")),
        ("dotted value", pad("a.b.c")),
    ]
    if lo > 0:
        out.append(("min-1 chars", fill("a", lo - 1)))
    return out


def int_cases(s):
    lo, hi = s.get("minimum", -(1 << 63)), s.get("maximum", (1 << 63) - 1)
    return [
        ("string", str(lo)), ("float", 1.5), ("bool", False), ("null", None), ("array", [lo]),
        ("min", lo), ("min-1", lo - 1), ("max", hi), ("max+1", hi + 1),
        ("2^63", None, "9223372036854775808"), ("-2^63-1", None, "-9223372036854775809"),
        ("exponent", None, "1e2"), ("negative zero", None, "-0"), ("huge digits", None, "9" * 400),
    ]


def field_cases(s, valid_base):
    s = resolve(s)
    t = s.get("type")
    if isinstance(t, list):
        t = [x for x in t if x != "null"][0]
    if t == "string":
        if "pattern" in s and s["pattern"].startswith("^[0-9a-f"):
            return [("short id", "0123"), ("long id", FAKE + "0"), ("upper id", FAKE.upper()),
                    ("non-hex id", "z" * 24), ("int", 1), ("null", None), ("object id", {"$oid": FAKE}),
                    ("unicode id", "é" * 12)]
        return string_cases(s, valid_base)
    if t == "integer":
        return int_cases(s)
    if t == "boolean":
        return [("string", "true"), ("int", 1), ("null", None), ("array", [True])]
    if t == "array":
        item = resolve(s["items"])
        one = sample(item)
        hi = s.get("maxItems", 20)
        out = [("not an array", {"0": one}), ("string", "x"), ("null", None),
               ("empty", []), ("max items", [one] * hi), ("max+1 items", [one] * (hi + 1)),
               ("item of the wrong type", [17]), ("nested array", [[one]])]
        if item.get("type") == "object":
            out += [("item with a $ key", [dict(one, **{"$where": "1"})]),
                    ("item with a dotted key", [dict(one, **{"a.b": 1})]),
                    ("item with an unknown key", [dict(one, zz=1)])]
            for k, v in item.get("properties", {}).items():
                for c in field_cases(v, one.get(k))[:8]:
                    if len(c) == 2:
                        out.append(("item." + k + ": " + c[0], [dict(one, **{k: c[1]})]))
        else:
            out += [("item max chars", ["a" * item.get("maxLength", 32)]),
                    ("item max+1 chars", ["a" * (item.get("maxLength", 32) + 1)]),
                    ("item of 4-byte chars", ["🍕" * item.get("maxLength", 32)]),
                    ("item empty", [""])]
        return out
    return [("string", "x"), ("null", None)]


def dump(obj, raw_field=None, raw_text=None):
    """obj as JSON; raw_text replaces the value of raw_field verbatim."""
    if raw_field is None:
        return json.dumps(obj, ensure_ascii=False).encode()
    marker = "__RAW__"
    text = json.dumps(dict(obj, **{raw_field: marker}), ensure_ascii=False)
    return text.replace('"' + marker + '"', raw_text).encode()


def whole_body_cases(base):
    b = json.dumps(base, ensure_ascii=False)
    first = next(iter(base), "name")
    dup = b[:-1] + (", " if base else "") + json.dumps(first) + ": " + json.dumps(base.get(first, "x")) + "}"
    return [
        ("duplicate key", dup.encode()),
        ("$ key", dump(dict(base, **{"$set": {"role": "admin"}}))),
        ("dotted key", dump(dict(base, **{"a.b": 1}))),
        ("nested $ key", dump(dict(base, zz={"$ne": None}))),
        ("empty key", dump(dict(base, **{"": 1}))),
        ("unknown key", dump(dict(base, role="admin", user_id=FAKE, version=99))),
        ("not an object: array", b"[]"),
        ("not an object: string", b'"x"'),
        ("not an object: null", b"null"),
        ("empty body", b""),
        ("broken JSON", b'{"a":'),
        ("trailing garbage", b.encode() + b" x"),
        ("two objects", b.encode() + b.encode()),
        ("not UTF-8", b'{"name":"\xff\xfe"}'),
        ("byte order mark", b"\xef\xbb\xbf" + b.encode()),
        ("NaN", b'{"a":NaN}'),
        ("deep nesting", b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}"),
        ("comment", b"/* x */" + b.encode()),
    ]


def fill_path(p, value=FAKE):
    return "/".join(value if seg.startswith("{") else seg for seg in p.split("/"))


bad = []
statuses = {}
count = 0


def run(method, path, case, body=None, ctype="application/json", token=ADMIN, headers=None):
    global count
    st, data = send(method, path, body, ctype, token, headers)
    count += 1
    statuses[str(st)] = statuses.get(str(st), 0) + 1
    finding = None
    if st >= 500 or st == 0:
        finding = "5xx"
    elif st >= 400:
        try:
            e = json.loads(data)["error"]
            if not (isinstance(e["code"], str) and isinstance(e["message"], str) and e["message"]):
                finding = "shape"
        except Exception:
            finding = "shape"
    if finding:
        print(json.dumps({"bad": finding, "method": method, "path": path[:200], "case": case,
                          "status": st, "body": data[:300].decode("utf-8", "replace")}))
        sys.stdout.flush()


ops = []
for p, item in spec["paths"].items():
    if "servers" in item or p == "/api/auth/logout":  # internal (/metrics); the admin's token
        continue
    for m, op in item.items():
        if m in ("get", "post", "put", "patch", "delete"):
            ops.append((p, m.upper(), op, item.get("parameters", []) + op.get("parameters", [])))

for p, m, op, params in ops:
    path = fill_path(p)
    # Ids in the path: malformed ones, once per operation.
    if "{" in p:
        for case, v in [("short id", "0123"), ("unicode id", "%C3%A9" * 12), ("NUL id", "%00" * 24),
                        ("dotted id", "a.b"), ("dollar id", "%24where"), ("long id", "f" * 300)]:
            run(m, fill_path(p, v), "path: " + case, b"{}" if m in ("POST", "PUT", "PATCH") else None)
    # Query parameters.
    for q in [x for x in params if x.get("in") == "query"]:
        s = q["schema"]
        vals = [("empty", ""), ("unicode", "é🍕"), ("oversize", "a" * 3000), ("$", "$gt"),
                ("NUL", "%00"), ("bad escape", "%zz"), ("array form", None)]
        if s.get("type") == "integer":
            vals += [("min-1", str(s.get("minimum", 0) - 1)), ("max+1", str(s.get("maximum", 0) + 1)),
                     ("float", "1.5"), ("huge", "9" * 40), ("max", str(s.get("maximum", 1)))]
        for case, v in vals:
            if v is None:
                qs = q["name"] + "[]=1&" + q["name"] + "=1"
            else:
                qs = q["name"] + "=" + (v if "%" in v else urllib.parse.quote(v))
            run(m, path + "?" + qs, "query " + q["name"] + ": " + case)
        run(m, path + "?" + q["name"] + "=1&" + q["name"] + "=2", "query " + q["name"] + ": twice")
    if any(x.get("in") == "query" for x in params) or m == "GET":
        for case, qs in [("unknown", "zz=1"), ("$ key", "%24where=1"), ("dotted key", "a.b=1"),
                         ("many", "&".join("limit=%d" % i for i in range(40)))]:
            run(m, path + "?" + qs, "query: " + case)
    # Headers that carry values: If-Match, Idempotency-Key.
    hnames = [x["name"] for x in params if x.get("in") == "header"]
    body_needed = m in ("POST", "PUT", "PATCH") and "requestBody" in op
    for hn in hnames:
        for case, v in [("not a number", "abc"), ("negative", "-1"), ("huge", "9" * 40),
                        ("unicode", "é"), ("long", "k" * 200), ("empty", "")]:
            run(m, path, "header " + hn + ": " + case, b"{}" if body_needed else None,
                headers={hn: v.encode("utf-8").decode("latin-1")})
    if not body_needed:
        if m in ("POST", "PUT", "PATCH"):
            run(m, path, "a body where none is taken", b'{"$where":"1"}')
        run(m, path, "as a customer", token=CUSTOMER)
        continue
    schema = resolve(op["requestBody"]["content"]["application/json"]["schema"])
    props = schema.get("properties", {})
    required = schema.get("required", [])
    base = sample(schema)
    if m == "PATCH" and not base:
        base = {}
    # A creating POST without an id in its path must not create: leave out a required field
    # other than the one under test (every such schema has two or more, or names ids).
    creating = m == "POST" and "{" not in p

    def body_for(field):
        b = dict(base)
        if creating:
            others = [r for r in required if r != field]
            if others:
                b.pop(others[0], None)
        return b

    for f, fs in props.items():
        for c in field_cases(fs, base.get(f, sample(fs))):
            b = body_for(f)
            if len(c) == 3:
                body = dump(b, f, c[2])
            else:
                b[f] = c[1]
                body = dump(b)
            run(m, path, f + ": " + c[0], body)
    for case, body in whole_body_cases(body_for(None) if creating else base):
        run(m, path, "body: " + case, body)
    run(m, path, "body: text/plain", json.dumps(base).encode(), ctype="text/plain")
    run(m, path, "body: form", b"a=1", ctype="application/x-www-form-urlencoded")
    run(m, path, "body: oversize 2 MB", b'{"a":"' + b"a" * 2000000 + b'"}')
    run(m, path, "as a customer", dump(body_for(None) if creating else base), token=CUSTOMER)
    run(m, path, "anonymous", dump(body_for(None) if creating else base), token="")

print(json.dumps({"summary": True, "requests": count, "statuses": statuses}))
