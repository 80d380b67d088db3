#!/usr/bin/python3
# The deployment files under docker/ (TAP, run by make check). No Docker engine or cluster runs
# here, so they are checked as files against the project: every YAML and JSON parses; every
# fcgi/<svc>/ has its image, compose service, k8s Deployment and Service, and nothing names a
# service, image, port or GALLEY_* variable the project does not have; the generated k8s files
# are a fresh rendering; the nginx configs rendered for the images pass `nginx -t`; the
# Grafana dashboard queries exactly the metrics galley exports, and shows the alerts; the
# alerting rules read only metrics and labels galley exports, and Prometheus loads them and
# sends them to the compose Alertmanager (tests/unit/alerts.sh runs promtool on them); the
# pools' probe answers for real against a pool of a built service; the data tier, in compose
# and k8s alike, is MongoDB's replica set rs0 of three mongod with an init job and galley's URI
# naming the three (w=majority, retryable writes), and the cache and the store each a primary
# and a replica (the store's with AOF always) under three Sentinels (quorum 2) that every
# service is told of; each instance's command line is run here through its shell with a
# stand-in redis-server, a real Sentinel (Debian's redis) loads the config sentinel.sh writes,
# and Node.js, when installed, runs mongo-rs-init.js's decisions against stand-in members; an
# HPA scales each service's pools by CPU. Debian's python3 with python3-yaml (bin/galley's
# PACKAGES). Run by hand: cd build && srcdir=.. ../tests/unit/deploy.py
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import yaml

TOP = os.path.abspath(os.environ.get("srcdir", "."))
BUILD = os.path.abspath(".")
D = os.path.join(TOP, "docker")
n = 0
failed = 0


def ok(cond, desc, detail=""):
    global n, failed
    n += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (n, desc))
    if not cond:
        failed += 1
        for line in str(detail).splitlines():
            print("#   " + line)
    return cond


def skip(desc, why):
    global n
    n += 1
    print("ok %d - %s # SKIP %s" % (n, desc, why))


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def rel(path):
    return os.path.relpath(path, TOP)


# ---------------------------------------------------------------- what the project has

SERVICES = sorted(os.path.basename(os.path.dirname(p)) for p in glob.glob(TOP + "/fcgi/*/main.c"))
ok(len(SERVICES) > 0, "fcgi/*/main.c names the services: " + " ".join(SERVICES))
CONF_VARS = set(re.findall(r'"(GALLEY_[A-Z0-9_]+)"', read(TOP + "/lib/conf.c")))
# bin/galley: its help (the front) and the parts it sources (bin/galley.d/), where the CT_* are.
GALLEY = "".join(read(f) for f in [TOP + "/bin/galley"] + sorted(glob.glob(TOP + "/bin/galley.d/*.sh")))
usage = GALLEY[GALLEY.index("usage() {") : GALLEY.index("\nEOF\n")]
DOC_VARS = set(re.findall(r"GALLEY_[A-Z0-9_]+", usage))
for pattern in set(re.findall(r"GALLEY_<SVC>_[A-Z]+", usage)):
    DOC_VARS |= {pattern.replace("<SVC>", s.upper().replace("-", "_")) for s in SERVICES}
KNOWN_VARS = CONF_VARS | DOC_VARS


def ct(name):
    m = re.search(r"\b%s=(\S+)" % name, GALLEY)
    return m.group(1) if m else None


POOL_PORT, PORT, INTERNAL_PORT, SIM_PORT, LIVE_PORT = (ct(v) for v in ("CT_POOL_PORT", "CT_PORT", "CT_INTERNAL_PORT", "CT_SIM_PORT", "CT_LIVE_PORT"))
CT_CONF, CT_RUN, CT_SHARE, CT_MODULES = ct("CT_CONF"), ct("CT_RUN"), ct("CT_SHARE"), ct("CT_MODULES")
ok(all((POOL_PORT, PORT, INTERNAL_PORT, SIM_PORT, LIVE_PORT, CT_CONF, CT_RUN, CT_SHARE, CT_MODULES)), "bin/galley names the images' ports and paths (CT_*)")
# The live server (nginx/live.conf.in): the nginx image run with this config, as the host "live".
LIVE_CONF = "live.conf"
LIVE_URL = "http://live:%s" % LIVE_PORT
# Infrastructure the files may name besides the services, and the upstream images allowed.
# The data tier (docker/README.md, "The data tier"): in k8s the StatefulSets mongo, cache,
# store, sentinel and the Job mongo-init; in compose each instance is a compose service.
MONGODS, REDIS_PER_ROLE, SENTINELS = 3, 2, 3
DATA_K8S = {"mongo", "mongo-init", "cache", "store", "sentinel"}
DATA_COMPOSE = ({"mongo-%d" % i for i in range(MONGODS)} | {"mongo-init"} | {"%s-%d" % (r, i) for r in ("cache", "store") for i in range(REDIS_PER_ROLE)}
                | {"sentinel-%d" % i for i in range(SENTINELS)})
INFRA = {"nginx", "nginx-peers", "live", "sql", "prometheus", "alertmanager", "grafana", "jaeger", "galley"} | DATA_K8S | DATA_COMPOSE
UPSTREAM_IMAGES = {"mongo", "redis", "prom/prometheus", "prom/alertmanager", "grafana/grafana", "jaegertracing/all-in-one"}
METRICS = {
    "galley_http_requests_total", "galley_http_request_duration_seconds_bucket",
    "galley_http_request_duration_seconds_sum", "galley_http_request_duration_seconds_count",
    "galley_cache_hits_total", "galley_cache_misses_total", "galley_events_published_total",
    "galley_events_consumed_total", "galley_events_retried_total",
    "galley_events_dead_lettered_total", "galley_events_consumer_lag", "galley_breaker_open",
    "galley_outbound_requests_total", "galley_outbound_request_duration_seconds_bucket",
    "galley_outbound_request_duration_seconds_sum", "galley_outbound_request_duration_seconds_count",
    "galley_processes", "nginx_connections_active", "nginx_connections_reading",
    "nginx_connections_writing", "nginx_connections_waiting", "nginx_connections_accepted_total",
    "nginx_connections_handled_total", "nginx_http_requests_total",
    "galley_pool_workers", "galley_pool_active_workers", "galley_pool_max_active_workers",
    "galley_pool_accepted_total", "galley_pool_max_children_reached_total", "galley_pool_listen_queue",
    "galley_pool_max_listen_queue", "galley_pool_listen_queue_length", "galley_pool_slow_requests_total",
    "galley_pool_timed_out_total", "galley_pool_recycled_total", "galley_pool_respawned_total",
}

# ---------------------------------------------------------------- every file parses

DOCS = {}
for path in sorted(glob.glob(D + "/**/*.y*ml", recursive=True)):
    try:
        DOCS[rel(path)] = [d for d in yaml.safe_load_all(read(path)) if d is not None]
        ok(True, rel(path) + " parses as YAML")
    except yaml.YAMLError as e:
        ok(False, rel(path) + " parses as YAML", e)
ok("docker/compose.yaml" in DOCS and "docker/k8s/kustomization.yaml" in DOCS, "docker/ has compose.yaml and k8s/kustomization.yaml")
DASHBOARDS = {}
for path in sorted(glob.glob(D + "/grafana/dashboards/*.json")):
    try:
        DASHBOARDS[rel(path)] = json.loads(read(path))
        ok(True, rel(path) + " parses as JSON")
    except ValueError as e:
        ok(False, rel(path) + " parses as JSON", e)
ok(len(DASHBOARDS) > 0, "docker/grafana/dashboards/ has a dashboard")

# ---------------------------------------------------------------- the Dockerfile


def dockerfile_stages(text):
    text = re.sub(r"\\\n", " ", text)  # continuation lines
    stages, cur, args = {}, None, {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "ARG" and cur is None:
            k, _, v = rest.partition("=")
            args[k] = v
        elif word == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", rest, re.I)
            cur = m.group(2) or str(len(stages))
            stages[cur] = {"from": m.group(1), "lines": []}
        elif cur is not None:
            stages[cur]["lines"].append((word, rest))
    return args, stages


DOCKERFILE = read(D + "/Dockerfile")
ARGS, STAGES = dockerfile_stages(DOCKERFILE)


def stage_lines(stage, word):
    return [r for w, r in STAGES.get(stage, {}).get("lines", []) if w == word]


def apt_packages(stage):
    pk = set()
    for r in stage_lines(stage, "RUN"):
        for m in re.finditer(r"apt-get install ((?:[^&;|]|\\)+)", r):
            pk |= {w for w in m.group(1).split() if not w.startswith("-")}
    return pk


def stage_base(stage):  # the stage chain down to an image
    seen = []
    while stage in STAGES:
        seen.append(stage)
        stage = STAGES[stage]["from"]
    return seen, stage


ok(set(STAGES) >= {"build", "runtime", "service", "sql", "nginx-config", "nginx"},
   "docker/Dockerfile has the stages build, runtime, service, sql, nginx-config, nginx", " ".join(STAGES))
bases = {s: stage_base(s)[1] for s in STAGES}
deb = ARGS.get("DEBIAN", "")
ok(re.fullmatch(r"debian:bookworm(-slim)?", deb) and all(b == "${DEBIAN}" for b in bases.values()),
   "every image is built FROM Debian bookworm (ARG DEBIAN=%s)" % deb, bases)
for stage in ("service", "sql", "nginx"):
    users = stage_lines(stage, "USER")
    ok(users and not re.match(r"(0|root)\b", users[-1]), "the %s image runs as a non-root user (%s)" % (stage, users))
    ok(len(stage_base(stage)[0]) >= 1 and stage != "build", "the %s image is a stage of its own, not the build stage" % stage)
# Every COPY from the context names something the repo has.
for stage, st in STAGES.items():
    for r in stage_lines(stage, "COPY"):
        if r.startswith("--from"):
            continue
        for src in r.split()[:-1]:
            ok(src == "." or os.path.exists(os.path.join(TOP, src)), "Dockerfile %s: COPY %s exists in the repo" % (stage, src))
# The build stage installs what configure.ac needs: each pkg-config module's and libfcgi's -dev package.
need = {"build-essential", "autoconf", "automake", "libtool", "pkg-config"}
configure = read(TOP + "/configure.ac")
owners = {}


def owner(path):
    if path not in owners:
        p = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
        owners[path] = p.stdout.split(":")[0].strip() if p.returncode == 0 else None
    return owners[path]


for mod in re.findall(r"PKG_CHECK_MODULES\(\[\w+\], \[([\w.+-]+)", configure):
    p = subprocess.run(["pkg-config", "--path", mod], capture_output=True, text=True)
    pkg = owner(p.stdout.strip()) if p.returncode == 0 else None
    ok(pkg is not None, "configure.ac's %s is a Debian package here (%s)" % (mod, pkg))
    if pkg:
        need.add(pkg)
for header in re.findall(r"AC_CHECK_HEADER\(\[([\w.]+)\]", configure):
    pkg = owner("/usr/include/" + header)
    ok(pkg is not None, "configure.ac's %s is a Debian package here (%s)" % (header, pkg))
    if pkg:
        need.add(pkg)
missing = need - apt_packages("build")
ok(not missing, "the build stage installs every package configure.ac needs", "missing: %s" % sorted(missing))
# The runtime stage installs the package of every library the built binaries link.
bins = sorted(glob.glob(BUILD + "/fcgi/*/galley-*") + glob.glob(BUILD + "/sql/galley-sql"))
bins = [b for b in bins if os.access(b, os.X_OK) and not b.endswith((".o", ".c"))]
if bins:
    libs = set()
    for b in bins:
        out = subprocess.run(["ldd", b], capture_output=True, text=True).stdout
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", subprocess.run(["readelf", "-d", b], capture_output=True, text=True).stdout)
        for lib in needed:
            if re.match(r"lib(asan|ubsan|lsan)\.", lib):  # the sanitizer build's own
                continue
            m = re.search(r"^\s*%s => (\S+)" % re.escape(lib), out, re.M)
            libs.add(m.group(1) if m else lib)
    pkgs = {owner(os.path.realpath(l)) or owner(l) or "?" + l for l in libs} - {"libc6"}
    missing = pkgs - apt_packages("runtime")
    ok(not missing, "the runtime stage installs the package of every library the %d built binaries link" % len(bins), "missing: %s" % sorted(missing))
else:
    skip("the runtime stage installs every library the binaries link", "no built binaries in " + BUILD)
# The service image: one per fcgi/<svc>/ by ARG SERVICE, a pool on POOL_PORT, probed by galley-probe.
svc_text = "\n".join(r for _, r in STAGES.get("service", {}).get("lines", []))
ok("SERVICE" in " ".join(stage_lines("service", "ARG")) and "galley-${SERVICE}" in svc_text,
   "the service image takes ARG SERVICE and copies the binary galley-${SERVICE}")
ok(stage_lines("service", "EXPOSE") == [POOL_PORT], "the service image exposes the pool port %s" % POOL_PORT, stage_lines("service", "EXPOSE"))
ok(any("galley-probe" in h and "readyz" in h for h in stage_lines("service", "HEALTHCHECK")), "the service image's HEALTHCHECK is galley-probe readyz")
ok(any("galley-pool" in e for e in stage_lines("service", "ENTRYPOINT")), "the service image's main process is galley-pool")
ok(apt_packages("service") >= {"libfcgi-bin"}, "the service image installs cgi-fcgi (libfcgi-bin) for its probe")
ok("/src/build/fcgi/pool/galley-pool" in svc_text, "the service image copies the pool manager (fcgi/pool/galley-pool)")
ok(apt_packages("nginx") >= {"nginx", "libnginx-mod-nchan", "libnginx-mod-http-js"}, "the nginx image installs nginx with nchan and njs")
ok(apt_packages("nginx") >= {"libnginx-mod-http-set-misc", "libnginx-mod-http-cache-purge"},
   "the nginx image installs set-misc and cache-purge (the auth check's cache, nginx.conf.in)")
ok(any("bin/galley render-nginx --target compose" in r for r in stage_lines("nginx-config", "RUN")), "the nginx image's config is rendered by bin/galley render-nginx --target compose")
pool = read(D + "/galley-pool")
probe = read(D + "/galley-probe")
ok(re.search(r"^port=%s\b" % POOL_PORT, pool, re.M) is not None, "galley-pool binds the pool port %s" % POOL_PORT)
ok("addr=${3:-127.0.0.1:%s}" % POOL_PORT in probe, "galley-probe asks the pool port %s" % POOL_PORT)
ok("/api/$svc/$what" in probe and all('"/api/%s/' + w + '"' in read(TOP + "/lib/dispatch.c") for w in ("healthz", "readyz")),
   "galley-probe's paths /api/<svc>/healthz|readyz are routes of every service (lib/dispatch.c)")

# ---------------------------------------------------------------- nginx, rendered fresh

TMP = tempfile.mkdtemp(prefix="galley-deploy.")


def galley(*args):
    p = subprocess.run([TOP + "/bin/galley"] + list(args), capture_output=True, text=True)
    return p.returncode == 0, p.stdout + p.stderr


def listen_ports(conf_dir, live=False):
    """The ports the main nginx (or, with live, the live server) listens on."""
    text = "".join(read(f) for f in glob.glob(conf_dir + "/*.conf") if (os.path.basename(f) == LIVE_CONF) == live)
    return sorted(set(re.findall(r"^\s*listen\s+(?:\S+:)?(\d+)\s*;", text, re.M)))


def live_command(conf_dir):
    """How the image runs the live server: nginx -p <its pid file's folder> -c <CT_CONF>/live.conf -e stderr."""
    m = re.search(r"^pid\s+(\S+)/nginx\.pid;", read(os.path.join(conf_dir, LIVE_CONF)), re.M)
    return ["nginx", "-p", m.group(1) if m else "?", "-c", CT_CONF + "/" + LIVE_CONF, "-e", "stderr"]


def upstreams(conf_dir):
    text = read(conf_dir + "/upstreams.conf")
    return {m.group(1): re.findall(r"server\s+(\S+)", m.group(2)) for m in re.finditer(r"upstream\s+galley_(\S+)\s*\{([^}]*)\}", text)}


RENDER = {}
for target in ("compose", "k8s"):
    out = os.path.join(TMP, target)
    good, msg = galley("render-nginx", "--target", target, out)
    if not ok(good, "bin/galley render-nginx --target %s" % target, msg):
        continue
    RENDER[target] = out
    ups = upstreams(out)
    ok(set(ups) >= set(SERVICES), "%s: nginx has an upstream per service" % target, sorted(ups))
    bad = [(s, v) for s, v in ups.items() if s in SERVICES and (not v or any(x != "%s:%s" % (s, POOL_PORT) for x in v))]
    ok(not bad, "%s: each service's upstream names its pools on port %s" % (target, POOL_PORT), bad)
    pools = {"%s:%s" % (s, POOL_PORT) for s in SERVICES}
    bad = [(s, v) for s, v in ups.items() if s not in SERVICES and not (v and set(v) <= pools)]
    ok(not bad, "%s: any other upstream names only the services' pools" % target, bad)
    ok(listen_ports(out) == sorted([PORT, INTERNAL_PORT, SIM_PORT]), "%s: nginx listens on %s, %s, %s" % (target, PORT, INTERNAL_PORT, SIM_PORT), listen_ports(out))
    # The live server: its own config, nchan loaded there and only there, found at LIVE_URL.
    if ok(os.path.exists(os.path.join(out, LIVE_CONF)), "%s: render-nginx writes the live server's %s" % (target, LIVE_CONF)):
        live = read(os.path.join(out, LIVE_CONF))
        ok(listen_ports(out, live=True) == [LIVE_PORT], "%s: the live server listens on %s (every interface)" % (target, LIVE_PORT), listen_ports(out, live=True))
        ok(re.search(r"^\s*listen\s+%s\s*;" % LIVE_PORT, live, re.M) is not None, "%s: the live server listens on every interface of its network, not loopback" % target)
        ok(re.search(r"^daemon\s+off;", live, re.M) is not None, "%s: the live server runs in the foreground (the container's main process)" % target)
        ok("load_module %s/ngx_nchan_module.so;" % CT_MODULES in live, "%s: the live server loads nchan from the image's modules" % target)
    ok("nchan" not in read(out + "/modules.conf"), "%s: the main nginx does not load nchan" % target)
    main = read(out + "/nginx.conf") + read(out + "/public.conf")
    urls = sorted(set(re.findall(r"proxy_pass\s+(http://live[^/;\s]*)", main)))
    ok(len(re.findall(r"proxy_pass\s+http://live", main)) == 1 and urls == [LIVE_URL], "%s: nginx proxies /live/orders to %s" % (target, LIVE_URL), urls)
    live_up = re.search(r"upstream\s+galley_live\s*\{([^}]*)\}", main)
    ok(live_up is not None and re.findall(r"server\s+(\S+);", live_up.group(1)) == ["live:%s" % LIVE_PORT]
       and re.search(r"keepalive\s+\d+;", live_up.group(1)) is not None
       and "proxy_pass http://galley_live/pub" in main,
       "%s: nginx posts to the live server's publisher path over kept connections (upstream galley_live, live:%s)" % (target, LIVE_PORT))
    loc = read(out + "/locations-public.conf")
    ok(all("location = /api/%s/%s " % (s, w) in loc for s in SERVICES for w in ("healthz", "readyz")), "%s: nginx routes every service's healthz and readyz" % target)


def nginx_t(conf_src, desc, main="nginx.conf", prefix="nginx"):
    """nginx -t of main (in the image: CT_CONF/main, prefix CT_RUN/prefix) on a throwaway copy:
    the image's paths moved into a temp folder, and the host names of the pools and of the
    live server (which resolve only on the compose network or in the cluster) as 127.0.0.1."""
    if not shutil.which("nginx"):
        skip(desc, "no nginx here")
        return
    root = tempfile.mkdtemp(dir=TMP)
    conf, run = root + "/conf", root + "/run"
    os.makedirs(run + "/nginx/tmp")
    os.makedirs(run + "/nginx/cache")  # as the image makes it (checked below)
    os.makedirs(run + "/nginx-live/tmp")
    os.makedirs(run + "/logs")
    os.makedirs(conf)
    for name, text in conf_src.items():
        text = text.replace(CT_CONF, conf).replace(CT_RUN, run).replace(CT_SHARE + "/nginx", TOP + "/nginx").replace(CT_SHARE, TOP + "/nginx")
        text = text.replace(LIVE_URL + "/", "http://127.0.0.1:%s/" % LIVE_PORT)
        text = text.replace("server live:%s;" % LIVE_PORT, "server 127.0.0.1:%s;" % LIVE_PORT)
        if name == "upstreams.conf":
            text = re.sub(r"(server\s+)[a-z0-9-]+:", r"\g<1>127.0.0.1:", text)
        if name == "pools.conf":  # each service's pool status (bin/galley's render_pools_status)
            text = re.sub(r"(proxy_pass\s+http://)[a-z0-9-]+:", r"\g<1>127.0.0.1:", text)
        with open(os.path.join(conf, name), "w") as f:
            f.write(text)
    p = subprocess.run(["nginx", "-t", "-q", "-p", run + "/" + prefix, "-c", conf + "/" + main, "-e", run + "/logs/error.log"], capture_output=True, text=True)
    ok(p.returncode == 0, desc, p.stdout + p.stderr)


def conf_files(d):
    return {os.path.basename(f): read(f) for f in glob.glob(d + "/*")}


if "compose" in RENDER:
    nginx_t(conf_files(RENDER["compose"]), "nginx -t passes on the config the nginx image carries (compose)")
    nginx_t(conf_files(RENDER["compose"]), "nginx -t passes on the live server's config the image carries (compose)", LIVE_CONF, "nginx-live")
    # The image makes what the configs write: each log a link to the container's stdout or
    # stderr, each pid file's folder (the -p prefix); it exposes the live server's port.
    ngx_run = " ".join(stage_lines("nginx", "RUN"))
    for name, text in sorted(conf_files(RENDER["compose"]).items()):
        for log in re.findall(r"^\s*(?:error_log|access_log)\s+(%s/logs/\S+?)[\s;]" % re.escape(CT_RUN), text, re.M):
            ok(re.search(r"ln -s /dev/std(out|err) %s\b" % re.escape(log), ngx_run) is not None, "the nginx image links %s's log %s to the container's output" % (name, log))
        # nginx makes a cache's own folder, not its parent.
        for cache in re.findall(r"^\s*fastcgi_cache_path\s+(\S+)/[^/\s]+\s", text, re.M):
            ok(re.search(r"mkdir -p [^&]*%s\b" % re.escape(cache), ngx_run) is not None, "the nginx image makes %s's cache folder %s" % (name, cache))
        for pid in re.findall(r"^pid\s+(\S+)/nginx\.pid;", text, re.M):
            ok(re.search(r"mkdir -p [^&]*%s/tmp\b" % re.escape(pid), ngx_run) is not None, "the nginx image makes %s's folder %s (and its tmp/)" % (name, pid))
    ok(LIVE_PORT in " ".join(stage_lines("nginx", "EXPOSE")).split(), "the nginx image exposes the live server's port %s" % LIVE_PORT, stage_lines("nginx", "EXPOSE"))

# ---------------------------------------------------------------- k8s

GEN = os.path.join(TMP, "generated")
good, msg = galley("render-k8s", GEN)
ok(good, "bin/galley render-k8s renders", msg)
for f in ("nginx-config.yaml", "services.yaml", "data-scripts.yaml"):
    checked = D + "/k8s/generated/" + f
    fresh = os.path.join(GEN, f)
    same = os.path.exists(checked) and os.path.exists(fresh) and read(checked) == read(fresh)
    diff = "" if same else subprocess.run(["diff", "-u", checked, fresh], capture_output=True, text=True).stdout[:3000]
    ok(same, "docker/k8s/generated/%s is a fresh rendering (else: bin/galley render-k8s)" % f, diff)
cm = [d for d in DOCS.get("docker/k8s/generated/nginx-config.yaml", []) if d.get("kind") == "ConfigMap"]
if cm and "k8s" in RENDER:
    fresh = conf_files(RENDER["k8s"])
    ok(cm[0].get("data") == fresh, "the nginx-config ConfigMap holds exactly bin/galley render-nginx --target k8s's files",
       sorted(k for k in set(fresh) | set(cm[0].get("data") or {}) if fresh.get(k) != (cm[0].get("data") or {}).get(k)))
    nginx_t(cm[0]["data"], "nginx -t passes on the nginx-config ConfigMap (k8s)")
    ok(LIVE_CONF in (cm[0].get("data") or {}), "the nginx-config ConfigMap carries the live server's %s" % LIVE_CONF)
    nginx_t(cm[0]["data"], "nginx -t passes on the live server's config in the nginx-config ConfigMap (k8s)", LIVE_CONF, "nginx-live")
else:
    ok(False, "docker/k8s/generated/nginx-config.yaml holds a ConfigMap")

kust = (DOCS.get("docker/k8s/kustomization.yaml") or [{}])[0]
resources = kust.get("resources", [])
ok(all(os.path.exists(D + "/k8s/" + r) for r in resources), "every resource kustomization.yaml lists exists", resources)
unlisted = [p for p in DOCS if p.startswith("docker/k8s/") and p[len("docker/k8s/"):] not in resources + ["kustomization.yaml", "jaeger.yaml"]]
ok(not unlisted, "kustomization.yaml lists every manifest (jaeger.yaml is optional)", unlisted)
K8S = [(p, d) for p, ds in DOCS.items() if p.startswith("docker/k8s/") and not p.endswith("kustomization.yaml") for d in ds]
ok(all(d.get("metadata", {}).get("namespace") == "galley" for p, d in K8S if d.get("kind") != "Namespace"), "every k8s object is in the namespace galley")
objs = {}
for p, d in K8S:
    objs.setdefault(d.get("kind"), {})[d["metadata"]["name"]] = d
WORKLOADS = {**objs.get("Deployment", {}), **objs.get("StatefulSet", {}), **objs.get("Job", {})}
names = set(WORKLOADS) | set(objs.get("Service", {}))
ok(names <= set(SERVICES) | INFRA, "every k8s workload and Service is a service, nginx, live, sql, jaeger or of the data tier (mongo, mongo-init, cache, store, sentinel)", sorted(names - set(SERVICES) - INFRA))
# GALLEY_NGINX_PEERS (lib/http.c's gl_http_peers): a host:port whose every address is one nginx,
# each asked to purge its auth cache. In k8s a headless Service (no ClusterIP: its name answers
# each nginx pod's address, a starting one's too) selecting exactly nginx's pods, on the internal port.
k8s_peers = (DOCS.get("docker/k8s/config.yaml") or [{}])[0].get("data", {}).get("GALLEY_NGINX_PEERS") or ""
peers_host, _, peers_port = k8s_peers.rpartition(":")
peers = objs.get("Service", {}).get(peers_host, {}).get("spec", {})
ok(peers.get("clusterIP") == "None" and peers.get("publishNotReadyAddresses") is True
   and [w for w, x in WORKLOADS.items() if peers.get("selector") and peers["selector"].items() <= x["spec"]["template"]["metadata"].get("labels", {}).items()] == ["nginx"]
   and peers_port == INTERNAL_PORT and [str(x.get("port")) for x in peers.get("ports", [])] == [INTERNAL_PORT],
   "k8s: GALLEY_NGINX_PEERS (%s) is a headless Service naming every nginx pod on the internal port %s, so auth purges each replica's auth cache" % (k8s_peers, INTERNAL_PORT), peers)
ok(objs.get("Deployment", {}).get("nginx", {}).get("spec", {}).get("replicas", 1) >= 2, "k8s: nginx runs more than one replica")


def containers(w):
    return w["spec"]["template"]["spec"].get("containers", [])


def image_ok(image):
    name, _, tag = image.partition(":")
    if name.startswith("galley/"):
        what = name[len("galley/"):]
        return what in SERVICES and "service" in STAGES or what in STAGES
    return name in UPSTREAM_IMAGES and tag not in ("", "latest")


for name, w in sorted(WORKLOADS.items()):
    for c in containers(w):
        ok(image_ok(c.get("image", "")), "k8s %s: image %s is built by docker/Dockerfile or a pinned upstream image" % (name, c.get("image")))
for svc in SERVICES:
    dep = objs.get("Deployment", {}).get(svc)
    service = objs.get("Service", {}).get(svc)
    if not ok(dep is not None and service is not None, "k8s: %s has a Deployment and a Service" % svc):
        continue
    c = containers(dep)[0]
    ok(c.get("image", "").split(":")[0] == "galley/" + svc, "k8s %s: its image is galley/%s" % (svc, svc))
    ok([p.get("containerPort") for p in c.get("ports", [])] == [int(POOL_PORT), 9001], "k8s %s: the container's ports are the pool port and its manager's status (9001)" % svc)
    ok([p.get("port") for p in service["spec"]["ports"]] == [int(POOL_PORT), 9001], "k8s %s: the Service's ports are the pool port nginx names and the status nginx's /pools asks" % svc)
    ok(c.get("readinessProbe", {}).get("exec", {}).get("command") == ["galley-probe", "readyz"], "k8s %s: readiness runs galley-probe readyz" % svc)
    ok(c.get("livenessProbe", {}).get("httpGet") == {"path": "/", "port": "status"}, "k8s %s: liveness asks the pool manager's status" % svc)
    ann = dep["spec"]["template"]["metadata"].get("annotations", {})
    ok(ann.get("prometheus.io/port") == "9001" and ann.get("prometheus.io/path") == "/metrics", "k8s %s: Prometheus scrapes each pod's pool counters on its status port" % svc, ann)
# Every Service selects a workload's pods, and its target ports are that workload's ports.
for name, s in sorted(objs.get("Service", {}).items()):
    sel = s["spec"].get("selector", {})
    match = [w for w in WORKLOADS.values() if sel and all(w["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in sel.items())]
    ports = {p.get("name") for w in match for c in containers(w) for p in c.get("ports", [])} | {p.get("containerPort") for w in match for c in containers(w) for p in c.get("ports", [])}
    ok(match and all(p.get("targetPort", p.get("port")) in ports for p in s["spec"]["ports"]), "k8s Service %s selects pods that have its target ports" % name)
ngx = objs.get("Deployment", {}).get("nginx")
if ok(ngx is not None, "k8s: nginx has a Deployment"):
    vols = {v["name"]: v for v in ngx["spec"]["template"]["spec"].get("volumes", [])}
    mounts = [m for c in containers(ngx) for m in c.get("volumeMounts", []) if m["mountPath"] == CT_CONF]
    ok(mounts and vols.get(mounts[0]["name"], {}).get("configMap", {}).get("name") == "nginx-config", "k8s nginx mounts the nginx-config ConfigMap over " + str(CT_CONF))
    ok(sorted(str(p["containerPort"]) for c in containers(ngx) for p in c["ports"]) == sorted([PORT, INTERNAL_PORT, SIM_PORT]), "k8s nginx's container ports are nginx's listen ports")
    ok(sorted(str(p["port"]) for p in objs["Service"]["nginx"]["spec"]["ports"]) == sorted([PORT, INTERNAL_PORT, SIM_PORT]), "k8s Service nginx has nginx's listen ports")
# The live server: one pod of the nginx image running live.conf from the ConfigMap, its Service
# on its port, and only nginx let in.
lv = objs.get("Deployment", {}).get("live")
if ok(lv is not None and objs.get("Service", {}).get("live") is not None, "k8s: the live server has a Deployment and a Service named live (the host of %s)" % LIVE_URL):
    c = containers(lv)[0]
    ok(lv["spec"].get("replicas") == 1 and lv["spec"].get("strategy", {}).get("type") == "Recreate",
       "k8s live: one replica, Recreate (never two pods holding channels at once)", (lv["spec"].get("replicas"), lv["spec"].get("strategy")))
    ok(c.get("image", "").split(":")[0] == "galley/nginx", "k8s live: its image is galley/nginx", c.get("image"))
    if "k8s" in RENDER:
        ok(c.get("command") == live_command(RENDER["k8s"]), "k8s live: its command runs the rendered %s with its prefix" % LIVE_CONF, c.get("command"))
    vols = {v["name"]: v for v in lv["spec"]["template"]["spec"].get("volumes", [])}
    mounts = [m for m in c.get("volumeMounts", []) if m["mountPath"] == CT_CONF]
    ok(mounts and vols.get(mounts[0]["name"], {}).get("configMap", {}).get("name") == "nginx-config", "k8s live mounts the nginx-config ConfigMap over " + str(CT_CONF))
    ok([str(p.get("containerPort")) for p in c.get("ports", [])] == [LIVE_PORT], "k8s live: the container's port is the live server's %s" % LIVE_PORT, c.get("ports"))
    ok([str(p.get("port")) for p in objs["Service"]["live"]["spec"]["ports"]] == [LIVE_PORT], "k8s Service live has the live server's port %s" % LIVE_PORT)
    named = {p.get("name"): str(p.get("containerPort")) for p in c.get("ports", [])}
    rp, lp = c.get("readinessProbe", {}), c.get("livenessProbe", {})
    status = re.findall(r"location\s*=\s*(\S+)\s*\{\s*(?:#[^\n]*\n\s*|access_log off;\s*)*nchan_stub_status;", read(os.path.join(RENDER["k8s"], LIVE_CONF))) if "k8s" in RENDER else []
    ok(rp.get("httpGet", {}).get("path") in status and named.get(rp["httpGet"].get("port"), str(rp["httpGet"].get("port"))) == LIVE_PORT,
       "k8s live: readiness asks nchan's status location %s on %s" % (status, LIVE_PORT), rp)
    ok(named.get(lp.get("tcpSocket", {}).get("port"), str(lp.get("tcpSocket", {}).get("port"))) == LIVE_PORT, "k8s live: liveness connects to %s" % LIVE_PORT, lp)


def selects(selector, name):  # does a matchLabels selector pick the pods of workload name?
    labels = (WORKLOADS.get(name) or {}).get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


pols = [pol for pol in objs.get("NetworkPolicy", {}).values() if selects(pol["spec"].get("podSelector", {}).get("matchLabels"), "live")]
froms = [f for pol in pols for rule in pol["spec"].get("ingress", []) for f in rule.get("from", [{}])]
ok(len(pols) == 1 and pols[0]["spec"].get("policyTypes") == ["Ingress"] and len(pols[0]["spec"].get("ingress", [])) == 1
   and froms and all(set(f) == {"podSelector"} and [w for w in WORKLOADS if selects(f["podSelector"].get("matchLabels"), w)] == ["nginx"] for f in froms)
   and [str(p.get("port")) for p in pols[0]["spec"]["ingress"][0].get("ports", [])] == [LIVE_PORT],
   "k8s: a NetworkPolicy lets only nginx's pods reach the live server, on %s" % LIVE_PORT, [pol["metadata"]["name"] for pol in pols])
ok(not objs.get("Secret"), "no k8s Secret with a value is committed")
env = objs.get("ConfigMap", {}).get("galley-env", {}).get("data", {})


def url_ok(url, services, port_of):
    m = re.match(r"\w+://([\w.-]+):(\d+)", url or "")
    return bool(m) and m.group(1) in services and m.group(2) == port_of(m.group(1))


ok(url_ok(env.get("GALLEY_INTERNAL_URL"), {"nginx"}, lambda h: INTERNAL_PORT), "k8s GALLEY_INTERNAL_URL is nginx's internal listener", env.get("GALLEY_INTERNAL_URL"))
# Every service's pods read galley-env (which has GALLEY_STORE_URL).
for svc in SERVICES:
    c = containers(objs.get("Deployment", {}).get(svc) or {"spec": {"template": {"spec": {}}}})
    ok(c and any(f.get("configMapRef", {}).get("name") == "galley-env" for f in c[0].get("envFrom", [])), "k8s %s: its pods read galley-env (the data tier's URLs and Sentinels among it)" % svc)


def aof_always(cmd):
    """A redis-server command line (list or string) with AOF on and every write fsynced."""
    words = [str(w) for w in cmd] if isinstance(cmd, list) else str(cmd or "").split()
    line = " ".join(words)
    return re.search(r"--appendonly yes\b", line) is not None and re.search(r"--appendfsync always\b", line) is not None


if shutil.which("kubectl"):
    p = subprocess.run(["kubectl", "kustomize", D + "/k8s"], capture_output=True, text=True, timeout=60)
    ok(p.returncode == 0, "kubectl kustomize docker/k8s builds", p.stderr)
else:
    skip("kubectl kustomize docker/k8s builds", "no kubectl here")

# ---------------------------------------------------------------- compose

compose = (DOCS.get("docker/compose.yaml") or [{}])[0]
cs = compose.get("services", {})
want = set(SERVICES) | DATA_COMPOSE | {"nginx", "live", "sql", "prometheus", "alertmanager", "grafana", "jaeger"}
ok(set(cs) == want, "compose has every service, nginx, live, sql, the data tier (%s), prometheus, alertmanager, grafana, jaeger and nothing else" % " ".join(sorted(DATA_COMPOSE)),
   sorted(set(cs) ^ want))
for name, s in sorted(cs.items()):
    image, build = s.get("image", ""), s.get("build")
    if image.startswith("galley/"):
        target = (build or {}).get("target")
        ok(build and build.get("context") == ".." and build.get("dockerfile") == "docker/Dockerfile" and target in STAGES
           and image == "galley/" + (name if target == "service" else target),
           "compose %s: image %s is built by docker/Dockerfile (target %s)" % (name, image, target))
    else:
        ok(image_ok(image) and not build, "compose %s: image %s is a pinned upstream image" % (name, image))
for svc in SERVICES:
    s = cs.get(svc, {})
    u = svc.upper().replace("-", "_")
    ok((s.get("build") or {}).get("args", {}).get("SERVICE") == svc and (s.get("build") or {}).get("target") == "service", "compose %s: built with SERVICE=%s" % (svc, svc))
    ok(re.fullmatch(r"\$\{GALLEY_%s_POOLS:-[1-9][0-9]?\}" % u, str(s.get("deploy", {}).get("replicas"))), "compose %s: its pools are GALLEY_%s_POOLS replicas" % (svc, u), s.get("deploy"))
    ok(re.fullmatch(r"\$\{GALLEY_%s_WORKERS:-[1-9][0-9]?\}" % u, str(s.get("environment", {}).get("GALLEY_WORKERS"))), "compose %s: GALLEY_WORKERS is GALLEY_%s_WORKERS" % (svc, u))
    ok(url_ok(s.get("environment", {}).get("GALLEY_INTERNAL_URL"), {"nginx"}, lambda h: INTERNAL_PORT), "compose %s: GALLEY_INTERNAL_URL is nginx's internal listener" % svc)
    ok(not s.get("ports"), "compose %s: its pool port is not published on the host" % svc)
    dep = {k: v.get("condition") for k, v in (s.get("depends_on") or {}).items()}
    redis_like = sorted(n for n in DATA_COMPOSE if n.startswith(("cache-", "store-", "sentinel-")))
    ok(dep.get("mongo-init") == dep.get("sql") == "service_completed_successfully" and all(dep.get(n) == "service_healthy" for n in redis_like),
       "compose %s: starts once the replica set has a primary (mongo-init), sql has run, and every Redis and Sentinel is healthy" % svc, dep)
nginx_s = cs.get("nginx", {})
ok(all(nginx_s.get("depends_on", {}).get(s, {}).get("condition") == "service_healthy" for s in SERVICES), "compose nginx starts after every service's pools are healthy (its upstreams must resolve)")
ok([str(p).rsplit(":", 1)[-1] for p in nginx_s.get("ports", [])] == [PORT], "compose nginx publishes only the public port %s" % PORT, nginx_s.get("ports"))


def defaults(text):
    """A compose value as it is with no variable set: ${VAR:-default} -> default."""
    return re.sub(r"\$\{\w+:?-([^}]*)\}", r"\1", str(text))


# Several nginx replicas (docker/README.md): GALLEY_NGINX_REPLICAS, at least two by default;
# each publishes the public port on a host port of its own, from a range at least as wide as the
# default replicas (one host port cannot be bound twice); nothing pins one container (a
# container_name or a hostname would).
m = re.fullmatch(r"\$\{GALLEY_NGINX_REPLICAS:-(\d+)\}", str(nginx_s.get("deploy", {}).get("replicas")))
nginx_replicas = int(m.group(1)) if m else int(nginx_s.get("deploy", {}).get("replicas", 1)) if str(nginx_s.get("deploy", {}).get("replicas", 1)).isdigit() else 0
ok(m is not None and nginx_replicas >= 2 and "scale" not in nginx_s and not ({"container_name", "hostname"} & set(nginx_s)),
   "compose nginx: GALLEY_NGINX_REPLICAS replicas, %d by default (at least 2)" % nginx_replicas, nginx_s.get("deploy"))
host_ports = [str(p).rsplit(":", 1)[0] for p in nginx_s.get("ports", [])]
m = re.fullmatch(r"(?:[\d.]+:)?(\d+)-(\d+)", defaults(host_ports[0])) if len(host_ports) == 1 else None
ok(m is not None and host_ports[0].startswith("${GALLEY_PORT:-") and int(m.group(2)) - int(m.group(1)) + 1 >= max(nginx_replicas, 2),
   "compose nginx: the public port is published on a host port range (from GALLEY_PORT) with a port for each of its %d replicas, so they do not clash" % nginx_replicas, nginx_s.get("ports"))
# Inside compose every replica is reached by the service's name: Docker's DNS answers "nginx"
# with each replica's address. The auth cache's purge asks each (GALLEY_NGINX_PEERS).
for svc in SERVICES:
    ok(cs.get(svc, {}).get("environment", {}).get("GALLEY_NGINX_PEERS") == "nginx:" + INTERNAL_PORT,
       "compose %s: GALLEY_NGINX_PEERS is nginx:%s, every nginx replica's internal listener (Docker's DNS answers each)" % (svc, INTERNAL_PORT),
       cs.get(svc, {}).get("environment", {}).get("GALLEY_NGINX_PEERS"))
# The live server: the nginx image running live.conf, one replica, its port unpublished, on a
# network it shares with nginx alone; nginx starts once it answers (nginx resolves "live").
live_s = cs.get("live", {})
ok(live_s.get("image") == "galley/nginx" and (live_s.get("build") or {}).get("target") == "nginx", "compose live: the nginx image", live_s.get("image"))
if "compose" in RENDER:
    ok(live_s.get("command") == live_command(RENDER["compose"]), "compose live: its command runs the rendered %s with its prefix" % LIVE_CONF, live_s.get("command"))
ok(str(live_s.get("deploy", {}).get("replicas", 1)) == "1" and "scale" not in live_s, "compose live: one replica")
ok(not live_s.get("ports"), "compose live: its port is not published on the host")
ok(nginx_s.get("depends_on", {}).get("live", {}).get("condition") == "service_healthy", "compose nginx starts after the live server is healthy")
hc = " ".join(live_s.get("healthcheck", {}).get("test", []))
ok("/dev/tcp/127.0.0.1/%s" % LIVE_PORT in hc and "/.galley/live-status" in hc and "/.galley/live-status" in read(TOP + "/nginx/live.conf.in"),
   "compose live: its health check asks the live server's status on %s (not the image's check of %s)" % (LIVE_PORT, PORT), hc)
live_nets = set(live_s.get("networks", []))
sharing = sorted(n for n, x in cs.items() if n != "live" and live_nets & set(x.get("networks", ["default"])))
ok(live_nets and sharing == ["nginx"], "compose live: only nginx shares a network with it", sharing)
ok(not re.search(r"GALLEY_(PAYMENT_KEY|ADMIN_PASSWORD)\s*[:=]", read(D + "/compose.yaml") + "".join(read(TOP + "/" + p) for p in DOCS if p.startswith("docker/k8s/"))),
   "no compose or k8s file sets GALLEY_PAYMENT_KEY or GALLEY_ADMIN_PASSWORD")
secret_files = [v.get("file", "") for v in compose.get("secrets", {}).values()]
ok(secret_files and all(f.startswith("./secrets/") for f in secret_files), "compose's secrets are files under docker/secrets/", secret_files)
if subprocess.run(["git", "-C", TOP, "rev-parse", "--git-dir"], capture_output=True).returncode == 0:
    unignored = [f for f in secret_files if subprocess.run(["git", "-C", TOP, "check-ignore", "-q", os.path.normpath(os.path.join("docker", f))], capture_output=True).returncode != 0]
    ok(not unignored, "git ignores compose's secret files", unignored)
else:
    skip("git ignores compose's secret files", "not a git checkout")
for name, s in sorted(cs.items()):
    for v in s.get("volumes", []):
        src = v.split(":")[0] if isinstance(v, str) else v.get("source", "")
        if src.startswith("."):
            ok(os.path.exists(os.path.join(D, src)), "compose %s: %s exists" % (name, src))
# Every GALLEY_* variable the deployment files name is one the project reads or documents.
# (Not the nginx config: its GALLEY_REQUEST_ID is a FastCGI parameter, not a variable.)
# compose.yaml's own knobs, which only compose reads (no galley program does): docker/README.md
# documents them.
COMPOSE_VARS = {"GALLEY_NGINX_REPLICAS", "GALLEY_PORT_LAST"}
docker_readme = read(D + "/README.md")
ok(all("`%s`" % v in docker_readme for v in COMPOSE_VARS), "docker/README.md documents compose's own variables (%s)" % " ".join(sorted(COMPOSE_VARS)),
   sorted(v for v in COMPOSE_VARS if "`%s`" % v not in docker_readme))
files = [D + "/compose.yaml", D + "/Dockerfile", D + "/galley-pool"] + [TOP + "/" + p for p in DOCS if p.startswith("docker/k8s/") and not p.endswith("nginx-config.yaml")]
unknown = sorted({v for f in files for v in re.findall(r"GALLEY_[A-Z0-9_]*[A-Z0-9]", read(f)) if v not in KNOWN_VARS and not (f == D + "/compose.yaml" and v in COMPOSE_VARS)})
ok(not unknown, "every GALLEY_* variable in docker/ is in lib/conf.c or bin/galley's help (or, in compose.yaml, compose's own: %s)" % " ".join(sorted(COMPOSE_VARS)), unknown)

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- the data tier
# MongoDB as the replica set rs0 of three mongod with an init job; the cache and the store each a
# primary and a replica; three Sentinels watching both; galley's URLs naming them. Checked the
# same way for compose and k8s: each instance is reduced to what it would run (the command
# line, run through its shell with a stand-in redis-server, and the config sentinel.sh writes)
# and where it is reached (host:port as the others name it).
RS = "rs0"
MASTERS = {"cache": "galley-cache", "store": "galley-store"}  # role: Sentinel's master name
URL_VAR = {"cache": "GALLEY_REDIS_URL", "store": "GALLEY_STORE_URL"}
MASTER_VAR = {"cache": "GALLEY_REDIS_MASTER", "store": "GALLEY_STORE_MASTER"}
SENTINEL_PORT = "26379"
DATA_DIR = D + "/data"  # the scripts: compose mounts them, k8s has them in generated/data-scripts.yaml
FAKE = os.path.join(TMP, "fake-bin")
os.makedirs(FAKE, exist_ok=True)
with open(FAKE + "/redis-server", "w") as f:  # records its command line, one word a line
    f.write('#!/bin/sh\nprintf "%s\\n" "$@" >"$ARGV_OUT"\n')
os.chmod(FAKE + "/redis-server", 0o755)

cm = [d for d in DOCS.get("docker/k8s/generated/data-scripts.yaml", []) if d.get("kind") == "ConfigMap"]
scripts = {os.path.basename(f): read(f) for f in glob.glob(DATA_DIR + "/*")}
ok(cm and cm[0]["metadata"]["name"] == "data-scripts" and cm[0].get("data") == scripts,
   "the data-scripts ConfigMap holds exactly docker/data/'s files (%s)" % " ".join(sorted(scripts)), sorted(set(scripts) ^ set((cm[0].get("data") or {}) if cm else {})))


def run_argv(argv, env=None, mounts=None):
    """Run a container's command line here, with redis-server a stand-in: what redis-server would
    have been given (a list) and the folder a named volume stood for; None if it never got there.
    mounts: container path -> a path here (a folder or file of the repo); others (volumes) become
    fresh temporary folders."""
    vol = tempfile.mkdtemp(dir=TMP)
    args = []
    for a in argv:
        a = str(a)
        for dst, src in sorted((mounts or {}).items(), key=lambda kv: -len(kv[0])):
            if a == dst or a.startswith(dst.rstrip("/") + "/"):
                a = (src if src else vol) + a[len(dst):]
                break
        args.append(a)
    out = os.path.join(TMP, "argv.%d" % len(os.listdir(TMP)))
    p = subprocess.run(args, env=dict(env or {}, PATH=FAKE + ":/usr/bin:/bin", ARGV_OUT=out), capture_output=True, text=True, timeout=10)
    if p.returncode != 0 or not os.path.exists(out):
        return None, vol, p.stderr
    return read(out).splitlines(), vol, ""


def flag(argv, name, n=1):
    """The n words after --name in argv (a list of them when n > 1), or None."""
    if argv and name in argv:
        i = argv.index(name)
        return argv[i + 1] if n == 1 else argv[i + 1 : i + 1 + n]
    return None


def sentinel_conf(text):
    """A Sentinel config: its global settings and, per master, its monitor and timings."""
    g, masters = {}, {}
    for line in text.splitlines():
        w = line.split()
        if len(w) >= 2 and w[0] == "sentinel" and w[1] == "monitor" and len(w) == 6:
            masters.setdefault(w[2], {})["monitor"] = (w[3] + ":" + w[4], w[5])
        elif len(w) == 4 and w[0] == "sentinel" and w[1] in ("down-after-milliseconds", "failover-timeout", "parallel-syncs"):
            masters.setdefault(w[2], {})[w[1]] = w[3]
        elif len(w) == 3 and w[0] == "sentinel":
            g[w[1]] = w[2].strip('"')
        elif len(w) == 2:
            g[w[0]] = w[1].strip('"')
    return g, masters


def mongo_uri(uri):
    m = re.fullmatch(r"mongodb://([^/?]+)/?(?:\?(.*))?", uri or "")
    if not m:
        return [], {}
    return m.group(1).split(","), dict(kv.split("=", 1) for kv in (m.group(2) or "").split("&") if "=" in kv)


def check_data_tier(where, t):
    """t: what `where` (compose or k8s) runs, reduced: mongods [(host:port, argv, persistent)],
    init {script, env, after}, sql_uri, redis {role: [(host:port, argv, persistent, health)]},
    sentinels [(host:port, conf text, health)], envs {who: environment}, mongo_health [...]."""
    mongods = t["mongods"]
    hosts = [h for h, _, _ in mongods]
    ok(len(mongods) == MONGODS and all(flag(a, "--replSet") == RS for _, a, _ in mongods),
       "%s: %d mongod in the replica set %s (--replSet)" % (where, MONGODS, RS), [(h, a) for h, a, _ in mongods])
    ok(all(p for _, _, p in mongods), "%s: each mongod keeps /data/db on a volume of its own" % where, [(h, p) for h, _, p in mongods])
    ok(all("ping" in " ".join(map(str, hc)) for hc in t["mongo_health"]) and len(t["mongo_health"]) == MONGODS, "%s: each mongod's health check is a ping" % where, t["mongo_health"])
    init = t["init"]
    ok(init.get("script") == DATA_DIR + "/mongo-rs-init.js" and init.get("mongosh"),
       "%s: an init job runs docker/data/mongo-rs-init.js with mongosh" % where, init)
    ok(init.get("env", {}).get("RS_NAME") == RS and init.get("env", {}).get("RS_MEMBERS", "").split(",") == hosts,
       "%s: the init job initiates %s with the three mongod, as they are reached (%s)" % (where, RS, ",".join(hosts)), init.get("env"))
    ok(init.get("after"), "%s: the init job starts after the three mongod" % where, init)
    for who, e in sorted(t["envs"].items()):
        uhosts, opts = mongo_uri(e.get("GALLEY_MONGO_URI"))
        ok(uhosts == hosts and opts.get("replicaSet") == RS and opts.get("w") == "majority" and opts.get("retryWrites") == "true" and opts.get("readPreference") == "primary",
           "%s %s: GALLEY_MONGO_URI names the three mongod, replicaSet=%s, w=majority, retryWrites=true, readPreference=primary" % (where, who, RS), e.get("GALLEY_MONGO_URI"))
    ok(t["sql_uri"] in {e.get("GALLEY_MONGO_URI") for e in t["envs"].values()} and mongo_uri(t["sql_uri"])[0] == hosts,
       "%s: sql applies sql/ through the replica set's URI (the services' GALLEY_MONGO_URI)" % where, t["sql_uri"])
    if t.get("sql_after_init") is not None:
        ok(t["sql_after_init"], "%s: sql starts once the init job has succeeded" % where)
    # Redis: per role a primary (no replicaof) and a replica of it; the store's both AOF always.
    for role, inst in sorted(t["redis"].items()):
        argvs = [a for _, a, _, _ in inst]
        if not ok(len(inst) == REDIS_PER_ROLE and all(argvs), "%s %s: %d Redis, each runs redis-server" % (where, role, REDIS_PER_ROLE), [(h, e) for h, a, _, e in inst if not a] or len(inst)):
            continue
        primary = inst[0][0]
        ok(flag(argvs[0], "--replicaof") is None and flag(argvs[0], "--slaveof") is None, "%s %s: %s starts as the primary (no replicaof)" % (where, role, primary), argvs[0])
        ok(all(flag(a, "--replicaof", 2) == primary.split(":") for a in argvs[1:]), "%s %s: the replica's replicaof is the primary %s" % (where, role, primary), [flag(a, "--replicaof", 2) for a in argvs[1:]])
        ok(all(flag(a, "--replica-announce-ip") == h.split(":")[0] for h, a, _, _ in inst), "%s %s: each announces the name it is reached by (replica-announce-ip)" % (where, role),
           [(h, flag(a, "--replica-announce-ip")) for h, a, _, _ in inst])
        ok(all(str(h).endswith(":6379") for h, _, _, _ in inst) and all(flag(a, "--port") in (None, "6379") for a in argvs), "%s %s: each listens on 6379" % (where, role))
        ok(all(hc == ["redis-cli", "ping"] for _, _, _, hc in inst), "%s %s: each one's health check is redis-cli ping" % (where, role), [hc for _, _, _, hc in inst])
        if role == "store":
            ok(all(aof_always(a) for a in argvs), "%s store: both with --appendonly yes --appendfsync always" % where, argvs)
            ok(all(p for _, _, p, _ in inst), "%s store: both keep /data (the AOF's folder) on a volume of their own" % where, [(h, p) for h, _, p, _ in inst])
        else:
            ok(all(flag(a, "--appendonly") == "no" and flag(a, "--save") == "" for a in argvs), "%s cache: neither persists anything (--save \"\" --appendonly no)" % where, argvs)
    # Sentinels: three, each watching both primaries by name, quorum 2, the timings, hostnames.
    sents = t["sentinels"]
    ok(len(sents) == SENTINELS and all(c for _, c, _ in sents), "%s: %d Sentinels, each with a config sentinel.sh writes" % (where, SENTINELS), [(h, c is not None) for h, c, _ in sents])
    for host, conf, hc in sents:
        if conf is None:
            continue
        g, masters = sentinel_conf(conf)
        want = {MASTERS[r]: (t["redis"][r][0][0], "2") for r in MASTERS if t["redis"].get(r)}
        ok({m: v.get("monitor") for m, v in masters.items()} == want, "%s %s: monitors %s at their first primaries, quorum 2" % (where, host, " and ".join(sorted(want))), masters)
        ok(all(v.get("down-after-milliseconds") == "2000" and v.get("failover-timeout") == "10000" for v in masters.values()) and masters,
           "%s %s: down-after-milliseconds 2000, failover-timeout 10000 for each" % (where, host), masters)
        ok(g.get("resolve-hostnames") == "yes" and g.get("announce-hostnames") == "yes" and g.get("announce-ip") == host.split(":")[0],
           "%s %s: resolve-hostnames yes, announce-hostnames yes, announce-ip its own name" % (where, host), g)
        ok(g.get("port") == host.split(":")[1] == SENTINEL_PORT, "%s %s: listens on %s" % (where, host, SENTINEL_PORT), g.get("port"))
        ok(hc == ["redis-cli", "-p", SENTINEL_PORT, "ping"], "%s %s: its health check is redis-cli -p %s ping" % (where, host, SENTINEL_PORT), hc)
    ok(all(w for _, w in t.get("sentinel_dirs", [])) and len(t.get("sentinel_dirs", [])) == SENTINELS,
       "%s: each Sentinel's config is on a writable volume of its own (Sentinel rewrites it)" % where, t.get("sentinel_dirs"))
    # galley's side: every service finds the Sentinels, the master names and the /db.
    sent_hosts = sorted(h for h, _, _ in sents)
    for who, e in sorted(t["envs"].items()):
        ok(sorted((e.get("GALLEY_REDIS_SENTINELS") or "").split(",")) == sent_hosts and len(sent_hosts) == SENTINELS,
           "%s %s: GALLEY_REDIS_SENTINELS names the three Sentinels" % (where, who), e.get("GALLEY_REDIS_SENTINELS"))
        for role in MASTERS:
            ok(e.get(MASTER_VAR[role], MASTERS[role]) == MASTERS[role], "%s %s: %s is %s, the name the Sentinels monitor" % (where, who, MASTER_VAR[role], MASTERS[role]), e.get(MASTER_VAR[role]))
            m = re.fullmatch(r"redis://([\w.-]+:\d+)/(\d+)", e.get(URL_VAR[role]) or "")
            ok(m is not None and t["redis"].get(role) and m.group(1) == t["redis"][role][0][0], "%s %s: %s names a /db and the first %s primary" % (where, who, URL_VAR[role], role), e.get(URL_VAR[role]))
        wait = e.get("GALLEY_STORE_WAIT_MS")
        ok(wait is None or re.fullmatch(r"[1-9][0-9]*", str(wait)), "%s %s: GALLEY_STORE_WAIT_MS, if set, is a positive number of ms" % (where, who), wait)


# ---- compose
def compose_mounts(s):
    """A compose service's mounts: container path -> the repo's path (bind) or "" (a volume)."""
    m = {}
    for v in s.get("volumes", []):
        src, dst = (v.split(":") + [""])[:2] if isinstance(v, str) else (v.get("source", ""), v.get("target", ""))
        m[dst] = os.path.normpath(os.path.join(D, src)) if src.startswith(".") else ("" if src in (compose.get("volumes") or {}) else None)
    return m


def compose_health(s):
    hc = list(s.get("healthcheck", {}).get("test", []))
    return hc[1:] if hc[:1] == ["CMD"] else hc


def compose_host(name, port):
    return "%s:%s" % (name, port)


ct = {"mongods": [], "redis": {}, "sentinels": [], "sentinel_dirs": [], "mongo_health": []}
for i in range(MONGODS):
    s = cs.get("mongo-%d" % i, {})
    ct["mongods"].append((compose_host("mongo-%d" % i, 27017), [str(w) for w in s.get("command", [])], compose_mounts(s).get("/data/db") == ""))
    ct["mongo_health"].append(compose_health(s))
vols = [v for i in range(MONGODS) for v in cs.get("mongo-%d" % i, {}).get("volumes", [])]
ok(len(set(vols)) == len(vols) == MONGODS, "compose: each mongod has a volume of its own", vols)
mi = cs.get("mongo-init", {})
cmd = [str(w) for w in mi.get("command", [])]
mm = compose_mounts(mi)
script = flag(cmd, "--file")
ct["init"] = {"mongosh": cmd[:1] == ["mongosh"] and mi.get("image", "").split(":")[0] == "mongo", "script": mm.get(script) if script else None, "env": mi.get("environment", {}),
              "after": all((mi.get("depends_on") or {}).get("mongo-%d" % i, {}).get("condition") == "service_healthy" for i in range(MONGODS))}
sql_s = cs.get("sql", {})
ct["sql_uri"] = (sql_s.get("command") or [None])[0]
ct["sql_after_init"] = (sql_s.get("depends_on") or {}).get("mongo-init", {}).get("condition") == "service_completed_successfully"
for role in MASTERS:
    ct["redis"][role] = []
    for i in range(REDIS_PER_ROLE):
        name = "%s-%d" % (role, i)
        s = cs.get(name, {})
        argv, _, err = run_argv(s.get("command", []), mounts=compose_mounts(s)) if s.get("command") and s["command"][0] == "redis-server" else (None, None, "not redis-server")
        ct["redis"][role].append((compose_host(name, 6379), argv, compose_mounts(s).get("/data") == "", compose_health(s)))
store_vols = [v for i in range(REDIS_PER_ROLE) for v in cs.get("store-%d" % i, {}).get("volumes", [])]
ok(len(set(store_vols)) == len(store_vols) == REDIS_PER_ROLE, "compose: each store Redis has a volume of its own", store_vols)
for i in range(SENTINELS):
    name = "sentinel-%d" % i
    s = cs.get(name, {})
    mounts = compose_mounts(s)
    argv, vol, err = run_argv(s.get("command", []), mounts=mounts)
    conf = read(vol + "/sentinel.conf") if argv and os.path.exists(vol + "/sentinel.conf") else None
    ok(argv is not None and argv[:1] == [vol + "/sentinel.conf"] and argv[1:] == ["--sentinel"] and any(v == DATA_DIR + "/sentinel.sh" for v in mounts.values()),
       "compose %s: runs docker/data/sentinel.sh, which starts redis-server --sentinel on the config it wrote" % name, (argv, err))
    ct["sentinels"].append((compose_host(name, SENTINEL_PORT), conf, compose_health(s)))
    # The folder sentinel.sh is given is a named volume, the container's user may write it.
    ct["sentinel_dirs"].append((name, mounts.get((s.get("command") or ["", "", ""])[2]) == "" and s.get("user") in ("redis", "999", "999:999")))
ct["envs"] = {svc: cs.get(svc, {}).get("environment", {}) for svc in SERVICES}
check_data_tier("compose", ct)

# ---- k8s
def sts(name):
    return objs.get("StatefulSet", {}).get(name) or {"spec": {"template": {"spec": {"containers": [{}]}}}}


def pod_host(name, i, port):
    """How a StatefulSet's pod i is reached: <name>-<i>.<its headless Service>:<port>."""
    return "%s-%d.%s:%s" % (name, i, sts(name)["spec"].get("serviceName"), port)


def k8s_mounts(w, c):
    """A pod's mounts: mountPath -> the repo's folder (the data-scripts ConfigMap: docker/data/),
    "" (a volume the pod may write: a claim, an emptyDir) or None (anything else)."""
    vols = {v["name"]: v for v in w["spec"]["template"]["spec"].get("volumes", [])}
    claims = {t["metadata"]["name"] for t in w["spec"].get("volumeClaimTemplates", [])}
    m = {}
    for vm in c.get("volumeMounts", []):
        v = vols.get(vm["name"], {})
        if v.get("configMap", {}).get("name") == "data-scripts":
            m[vm["mountPath"]] = DATA_DIR
        elif vm["name"] in claims or "emptyDir" in v:
            m[vm["mountPath"]] = "" if not vm.get("readOnly") else None
        else:
            m[vm["mountPath"]] = None
    return m


def k8s_argv(c, pod):
    """The container's command line, with $(POD_NAME) as Kubernetes expands it."""
    words = [str(w) for w in c.get("command", []) + c.get("args", [])]
    return [w.replace("$(POD_NAME)", pod) for w in words]


def k8s_port_of(c, name):
    return next((str(p["containerPort"]) for p in c.get("ports", []) if p.get("name") == name), None)


def pod_name_env(c):
    return any(e.get("name") == "POD_NAME" and e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name" for e in c.get("env", []))


def probe(c):
    return c.get("readinessProbe", {}).get("exec", {}).get("command")


kt = {"mongods": [], "redis": {}, "sentinels": [], "sentinel_dirs": [], "mongo_health": []}
for name in ("mongo", "cache", "store", "sentinel"):
    w = sts(name)
    svc = objs.get("Service", {}).get(w["spec"].get("serviceName"), {})
    ok(svc.get("spec", {}).get("clusterIP") == "None" and svc.get("spec", {}).get("publishNotReadyAddresses") is True and selects(svc["spec"].get("selector"), name),
       "k8s %s: a headless Service names each pod, ready or not (its peers find it before it is ready)" % name, svc.get("spec"))
    aff = w["spec"]["template"]["spec"].get("affinity", {}).get("podAntiAffinity", {}).get("preferredDuringSchedulingIgnoredDuringExecution", [])
    ok(any(a.get("podAffinityTerm", {}).get("topologyKey") == "kubernetes.io/hostname" and selects(a["podAffinityTerm"].get("labelSelector", {}).get("matchLabels"), name) for a in aff),
       "k8s %s: its pods prefer nodes of their own (podAntiAffinity by kubernetes.io/hostname)" % name, aff)
    pdb = [b for b in objs.get("PodDisruptionBudget", {}).values() if selects(b["spec"].get("selector", {}).get("matchLabels"), name)]
    ok(len(pdb) == 1 and pdb[0]["spec"].get("maxUnavailable") == 1, "k8s %s: a PodDisruptionBudget lets a drain take one pod at a time" % name, [b["spec"] for b in pdb])
w = sts("mongo")
c = containers(w)[0]
claims = {t["metadata"]["name"] for t in w["spec"].get("volumeClaimTemplates", [])}
for i in range(w["spec"].get("replicas", 1)):
    kt["mongods"].append((pod_host("mongo", i, k8s_port_of(c, "mongo")), k8s_argv(c, "mongo-%d" % i), any(m["mountPath"] == "/data/db" and m["name"] in claims for m in c.get("volumeMounts", []))))
    kt["mongo_health"].append(probe(c))
job = objs.get("Job", {}).get("mongo-init") or {"spec": {"template": {"spec": {"containers": [{}]}}}}
jc = containers(job)[0]
jcmd = [str(x) for x in jc.get("command", []) + jc.get("args", [])]
jm = k8s_mounts(job, jc)
jscript = flag(jcmd, "--file") or ""
jdir = next((d for d in jm if jscript.startswith(d.rstrip("/") + "/")), None)
kt["init"] = {"mongosh": jcmd[:1] == ["mongosh"] and jc.get("image", "").split(":")[0] == "mongo", "script": (jm[jdir] + jscript[len(jdir):]) if jdir and jm.get(jdir) else None,
              "env": {e["name"]: e.get("value") for e in jc.get("env", [])}, "after": True}  # a Job retries until the mongod answer
sqlj = objs.get("Job", {}).get("sql") or {"spec": {"template": {"spec": {"containers": [{}]}}}}
sc = containers(sqlj)[0]
uses_env = any(f.get("configMapRef", {}).get("name") == "galley-env" for f in sc.get("envFrom", []))
kt["sql_uri"] = env.get("GALLEY_MONGO_URI") if uses_env and (sc.get("args") or [None])[0] == "$(GALLEY_MONGO_URI)" else (sc.get("args") or [None])[0]
kt["sql_after_init"] = None  # Jobs do not wait for each other: sql retries until there is a primary
for role in MASTERS:
    w = sts(role)
    c = containers(w)[0]
    claims = {t["metadata"]["name"] for t in w["spec"].get("volumeClaimTemplates", [])}
    ok(pod_name_env(c) or "POD_NAME" not in json.dumps(c), "k8s %s: POD_NAME is the pod's name (the downward API)" % role)
    kt["redis"][role] = []
    for i in range(w["spec"].get("replicas", 1)):
        pod = "%s-%d" % (role, i)
        argv, _, err = run_argv(k8s_argv(c, pod), env={"POD_NAME": pod}) if c.get("command") else (None, None, "no command")
        kt["redis"][role].append((pod_host(role, i, k8s_port_of(c, "redis")), argv, any(m["mountPath"] == "/data" and m["name"] in claims for m in c.get("volumeMounts", [])), probe(c)))
w = sts("sentinel")
c = containers(w)[0]
mounts = k8s_mounts(w, c)
ok(pod_name_env(c), "k8s sentinel: POD_NAME is the pod's name (the downward API), for announce-ip")
for i in range(w["spec"].get("replicas", 1)):
    pod = "sentinel-%d" % i
    argv, vol, err = run_argv(k8s_argv(c, pod), env={"POD_NAME": pod}, mounts=mounts)
    conf = read(vol + "/sentinel.conf") if argv and os.path.exists(vol + "/sentinel.conf") else None
    ok(argv is not None and argv[:1] == [vol + "/sentinel.conf"] and argv[1:] == ["--sentinel"] and DATA_DIR in mounts.values(),
       "k8s %s: runs docker/data/sentinel.sh (data-scripts), which starts redis-server --sentinel on the config it wrote" % pod, (argv, err))
    kt["sentinels"].append((pod_host("sentinel", i, k8s_port_of(c, "sentinel")), conf, probe(c)))
    kt["sentinel_dirs"].append((pod, mounts.get((c.get("args") or [""])[0]) == ""))
kt["envs"] = {"galley-env": env}
check_data_tier("k8s", kt)
# The data pods, every one, are let in by the same NetworkPolicies (galley's pods only).
let_in = {w: sorted(pol["metadata"]["name"] for pol in objs.get("NetworkPolicy", {}).values() if selects(pol["spec"].get("podSelector", {}).get("matchLabels"), w)) for w in ("mongo", "cache", "store", "sentinel")}
ok(let_in["mongo"] and all(v == let_in["mongo"] for v in let_in.values()), "k8s: the same NetworkPolicies guard MongoDB, both Redis and the Sentinels", let_in)

# A real Sentinel (Debian's redis-server, as the image's 7.0) takes the config sentinel.sh
# writes: the masters (at names that resolve here), quorum, timings; and rewrites it in place.
conf = next((c for _, c, _ in ct["sentinels"] if c), None)
if not shutil.which("redis-server") or not shutil.which("redis-cli"):
    skip("a real Sentinel loads the config sentinel.sh writes", "no redis-server here")
elif conf is None:
    ok(False, "a real Sentinel loads the config sentinel.sh writes", "no config")
else:
    sdir = tempfile.mkdtemp(dir=TMP)
    sport, dead = free_port(), free_port()
    text = re.sub(r"^port \d+", "port %d\nbind 127.0.0.1" % sport, conf, flags=re.M)
    text = re.sub(r"^dir .*", "dir %s" % sdir, text, flags=re.M)
    text = re.sub(r"^(sentinel monitor \S+) \S+ \d+", r"\1 localhost %d" % dead, text, flags=re.M)
    text = re.sub(r"^(sentinel announce-ip) .*", r"\1 localhost", text, flags=re.M)
    with open(sdir + "/sentinel.conf", "w") as f:
        f.write(text)
    sp = subprocess.Popen(["redis-server", sdir + "/sentinel.conf", "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        got = {}
        for _ in range(50):
            q = subprocess.run(["redis-cli", "-p", str(sport), "sentinel", "masters"], capture_output=True, text=True, timeout=5)
            if q.returncode == 0 and q.stdout.strip():
                words = q.stdout.split("\n")
                cur = None
                for k, v in zip(words[0::2], words[1::2]):
                    if k == "name":
                        cur = got.setdefault(v, {})
                    elif cur is not None:
                        cur[k] = v
                break
            time.sleep(0.1)
        want = {m: {"quorum": "2", "down-after-milliseconds": "2000", "failover-timeout": "10000"} for m in MASTERS.values()}
        ok({m: {k: v.get(k) for k in ("quorum", "down-after-milliseconds", "failover-timeout")} for m, v in got.items()} == want,
           "a real Sentinel (redis-server --sentinel) loads the config sentinel.sh writes: both masters, quorum 2, 2000 ms, 10000 ms", got)
        ok("sentinel myid" in read(sdir + "/sentinel.conf"), "the real Sentinel rewrites its config in place (why it starts from a copy on a writable volume)")
    finally:
        os.killpg(sp.pid, signal.SIGTERM)
        sp.wait(10)

# mongo-rs-init.js's decisions, run by Node.js against stand-in members (mongosh is not here):
# it initiates once, on the first member, only when all three answer and none is in a set; it
# never initiates beside an existing set; it waits for a primary; it fails when time is up.
HARNESS = r"""
const fs = require("fs"), vm = require("vm");
const sc = JSON.parse(process.argv[3]);
let now = 0;
const state = Object.assign({}, sc.hosts), log = { initiate: [], exit: null, out: [] };
class Quit { constructor(c) { this.code = c; } }
class Mongo {
  constructor(uri) {
    const m = /^mongodb:\/\/([^/?]+)\/\?(.*)$/.exec(uri);
    if (!m || !m[2].split("&").includes("directConnection=true")) throw new Error("not one member alone: " + uri);
    this.host = m[1];
  }
  getDB() {
    const host = this.host;
    return { runCommand(cmd) {
      const st = state[host];
      if (st === undefined || st === "down") throw new Error("connect ECONNREFUSED " + host);
      if (cmd.replSetGetStatus) {
        if (st === "new") {
          if (sc.throws) { const e = new Error("no replset config has been received"); e.code = 94; throw e; }
          return { ok: 0, code: 94, errmsg: "no replset config has been received" };
        }
        const [set, primary] = st.split(":");
        return { ok: 1, set, members: [{ name: host, stateStr: primary ? "PRIMARY" : "SECONDARY" }] };
      }
      if (cmd.replSetInitiate) {
        log.initiate.push({ host, config: cmd.replSetInitiate });
        for (const h of Object.keys(state)) state[h] = sc.afterInitiate;
        return { ok: 1 };
      }
      throw new Error("unexpected command " + JSON.stringify(cmd));
    } };
  }
  close() {}
}
const ctx = { process: { env: sc.env }, Mongo, print: (s) => log.out.push(String(s)),
  quit: (c) => { throw new Quit(c); }, Date: { now: () => now },
  sleep: (ms) => { now += ms; for (const [t, hs] of sc.timeline || []) if (now >= t) Object.assign(state, hs); } };
try { vm.runInNewContext(fs.readFileSync(process.argv[2], "utf8"), ctx); log.exit = "ran off its end"; }
catch (e) { log.exit = e instanceof Quit ? e.code : "threw " + e; }
console.log(JSON.stringify(log));
"""
node = shutil.which("node") or shutil.which("nodejs")
if not node:
    skip("docker/data/mongo-rs-init.js's decisions (run by Node.js against stand-in members)", "no node here")
else:
    members = ["m0:27017", "m1:27017", "m2:27017"]
    env3 = {"RS_NAME": RS, "RS_MEMBERS": ",".join(members), "RS_WAIT_S": "20"}
    everyone = lambda st: {h: st for h in members}
    config = {"_id": RS, "members": [{"_id": i, "host": h} for i, h in enumerate(members)]}
    cases = [
        ("three new members: initiates once, on the first, with all three, and waits for the primary",
         {"env": env3, "hosts": everyone("new"), "afterInitiate": RS + ":primary"}, 0, [{"host": members[0], "config": config}]),
        ("the same when mongosh throws the NotYetInitialized error (code 94)",
         {"env": env3, "hosts": everyone("new"), "afterInitiate": RS + ":primary", "throws": True}, 0, [{"host": members[0], "config": config}]),
        ("the set exists with a primary: initiates nothing, succeeds",
         {"env": env3, "hosts": everyone(RS + ":primary")}, 0, []),
        ("the set exists, its primary is elected later: initiates nothing, waits, succeeds",
         {"env": env3, "hosts": everyone(RS), "timeline": [[6000, {members[2]: RS + ":primary"}]]}, 0, []),
        ("one member in the set, the others new (not yet joined): initiates nothing beside it",
         {"env": env3, "hosts": dict(everyone("new"), **{members[1]: RS}), "timeline": [[8000, everyone(RS + ":primary")]]}, 0, []),
        ("one member does not answer, the others are new: initiates nothing (it may hold the set), fails when time is up",
         {"env": env3, "hosts": dict(everyone("new"), **{members[1]: "down"})}, 1, []),
        ("a member in another set: fails at once, initiates nothing",
         {"env": env3, "hosts": dict(everyone("new"), **{members[2]: "other:primary"})}, 1, []),
        ("no RS_MEMBERS: exit 2",
         {"env": {"RS_NAME": RS}, "hosts": {}}, 2, []),
    ]
    hpath = os.path.join(TMP, "rs-init-harness.js")
    with open(hpath, "w") as f:
        f.write(HARNESS)
    for desc, scen, code, initiated in cases:
        p = subprocess.run([node, hpath, DATA_DIR + "/mongo-rs-init.js", json.dumps(scen)], capture_output=True, text=True, timeout=30)
        try:
            got = json.loads(p.stdout)
        except ValueError:
            got = {"exit": None, "initiate": None, "stderr": p.stderr}
        ok(got.get("exit") == code and got.get("initiate") == initiated, "mongo-rs-init.js: " + desc, got)

# ---------------------------------------------------------------- HorizontalPodAutoscalers
# Each service's pool Deployment is scaled by CPU: an autoscaling/v2 HPA naming it, sane bounds,
# a CPU request on the pool (what utilization is a share of), and no replicas in the Deployment
# (each apply would reset the autoscaler's count).
hpas = objs.get("HorizontalPodAutoscaler", {})
for svc in SERVICES:
    dep = objs.get("Deployment", {}).get(svc) or {"spec": {"template": {"spec": {"containers": [{}]}}}}
    h = [x for x in hpas.values() if x.get("spec", {}).get("scaleTargetRef") == {"apiVersion": "apps/v1", "kind": "Deployment", "name": svc}]
    if not ok(len(h) == 1 and h[0].get("apiVersion") == "autoscaling/v2", "k8s %s: one HorizontalPodAutoscaler (autoscaling/v2) targets the Deployment %s" % (svc, svc), [x["metadata"]["name"] for x in h]):
        continue
    sp = h[0]["spec"]
    lo, hi = sp.get("minReplicas", 1), sp.get("maxReplicas", 0)
    ok(isinstance(lo, int) and isinstance(hi, int) and 2 <= lo <= hi, "k8s %s: the HPA's 2 <= minReplicas (%s) <= maxReplicas (%s)" % (svc, lo, hi))
    cpu = [m for m in sp.get("metrics", []) if m.get("type") == "Resource" and m.get("resource", {}).get("name") == "cpu"
           and m["resource"].get("target", {}).get("type") == "Utilization" and 0 < m["resource"]["target"].get("averageUtilization", 0) <= 100]
    ok(cpu, "k8s %s: the HPA scales on the pods' CPU utilization" % svc, sp.get("metrics"))
    ok(containers(dep)[0].get("resources", {}).get("requests", {}).get("cpu"), "k8s %s: the pool container requests CPU (the HPA's utilization is a share of it)" % svc)
    ok("replicas" not in dep.get("spec", {}), "k8s %s: the Deployment names no replicas (the HPA owns the count)" % svc, dep.get("spec", {}).get("replicas"))
    aff = dep["spec"]["template"]["spec"].get("affinity", {}).get("podAntiAffinity", {}).get("preferredDuringSchedulingIgnoredDuringExecution", [])
    ok(any(a.get("podAffinityTerm", {}).get("topologyKey") == "kubernetes.io/hostname" and selects(a["podAffinityTerm"].get("labelSelector", {}).get("matchLabels"), svc) for a in aff),
       "k8s %s: its pools prefer nodes of their own (podAntiAffinity)" % svc)
ok(set(hpas) <= set(SERVICES), "k8s: every HPA is a service's", sorted(set(hpas) - set(SERVICES)))

# ---------------------------------------------------------------- Prometheus and Grafana

prom = (DOCS.get("docker/prometheus/prometheus.yml") or [{}])[0]
# galley's totals (/metrics, from Redis: every nginx replica answers the same) once, as the one
# static target nginx:8081, job galley (GalleyMetricsDown reads up{job="galley"}); each nginx's
# own counters (/metrics/nginx) from every replica, found by DNS (type A: Docker's DNS answers
# the service's name with every replica's address), each replica its own instance.
targets = [(j.get("job_name"), j.get("metrics_path", "/metrics"), t) for j in prom.get("scrape_configs", []) for sc in j.get("static_configs", []) for t in sc.get("targets", [])]
ok(targets == [("galley", "/metrics", "nginx:" + INTERNAL_PORT)],
   "Prometheus scrapes galley's totals once: job galley, /metrics on nginx's internal listener nginx:%s (any replica answers)" % INTERNAL_PORT, targets)
dns = {j.get("job_name"): (j.get("metrics_path", "/metrics"), sorted(n for sc in j.get("dns_sd_configs", []) for n in sc.get("names", [])),
                           {str(sc.get("type", "SRV")) for sc in j.get("dns_sd_configs", [])}, {str(sc.get("port")) for sc in j.get("dns_sd_configs", [])}, bool(j.get("static_configs")))
       for j in prom.get("scrape_configs", []) if j.get("dns_sd_configs")}
ok(dns.get("nginx") == ("/metrics/nginx", ["nginx"], {"A"}, {INTERNAL_PORT}, False) and nginx_replicas >= 2,
   "Prometheus scrapes /metrics/nginx of every nginx replica (job nginx: DNS discovery, type A, of the name nginx, port %s)" % INTERNAL_PORT, dns.get("nginx"))
ok(dns.get("pools") == ("/metrics", sorted(SERVICES), {"A"}, {"9001"}, False), "Prometheus scrapes every pool (each replica of each service, by DNS) on its manager's status port 9001 at /metrics", dns.get("pools"))
ok(set(dns) == {"nginx", "pools"}, "Prometheus discovers by DNS only nginx's replicas and the pools", sorted(dns))
ok(any(str(v).startswith("./prometheus/prometheus.yml:") for v in cs.get("prometheus", {}).get("volumes", [])), "compose gives Prometheus docker/prometheus/prometheus.yml")


def promql_metrics(expr):
    e = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # strings
    e = re.sub(r"\{[^}]*\}", "", e)  # label matchers
    e = re.sub(r"\[[^\]]*\]", "", e)  # ranges
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", e)
    words = re.findall(r"[A-Za-z_:][\w:]*(?!\w)(?!\s*\()", e)
    return {w for w in words if w not in {"by", "without", "and", "or", "unless", "bool", "offset", "inf", "nan"}}


AGGREGATION = re.compile(r"\b(sum|min|max|avg|count|topk|bottomk|quantile|stddev|stdvar|group)\s*(?:(?:by|without)\s*\([^)]*\)\s*)?$")


def unaggregated(expr):
    """The metrics expr reads outside any aggregation (sum, max, topk..., with or without by)."""
    e = re.sub(r"\{[^}]*\}", "", re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr))  # strings, label matchers
    out = set()
    for m in re.finditer(r"\b(?:galley|nginx)_\w+", e):
        opened = []  # the parentheses open before m: True where one is an aggregation's
        for j, ch in enumerate(e[: m.start()]):
            if ch == "(":
                opened.append(AGGREGATION.search(e[:j]) is not None)
            elif ch == ")" and opened:
                opened.pop()
        if not any(opened):
            out.add(m.group(0))
    return out


used = set()
for path, dash in DASHBOARDS.items():
    exprs, variables = [], []  # the panels' queries; the template variables' label_values

    def walk(o):
        if isinstance(o, dict):
            for k, v in o.items():
                if k == "expr" and isinstance(v, str):
                    exprs.append(v)
                elif k in ("query", "definition") and isinstance(v, str) and "label_values" in v:
                    variables.append(re.sub(r"label_values\(([^,)]*).*", r"\1", v))
                else:
                    walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)

    walk(dash)
    names = set().union(*(promql_metrics(e) for e in exprs + variables)) if exprs else set()
    used |= names
    ok(exprs and names <= METRICS | {"ALERTS"}, "%s queries only galley's metrics and Prometheus's ALERTS (%d queries)" % (path, len(exprs)), sorted(names - METRICS - {"ALERTS"}))
    loose = sorted({m for e in exprs for m in unaggregated(e)})
    ok(not loose, "%s aggregates every metric it queries (sum by the labels it shows: a new label, such as the events' type, does not split a panel)" % path, loose)
ok(used >= METRICS, "the dashboards show every metric galley exports", sorted(METRICS - used - {"ALERTS"}))
alert_exprs = [e for d in DASHBOARDS.values() for e in re.findall(r'"expr":\s*"((?:[^"\\]|\\.)*)"', json.dumps(d)) if "ALERTS" in e]
ok(any('alertstate=\\"firing\\"' in e for e in alert_exprs), "a dashboard shows the firing alerts (ALERTS{alertstate=\"firing\"})", alert_exprs)
ds = (DOCS.get("docker/grafana/provisioning/datasources/prometheus.yaml") or [{}])[0].get("datasources", [{}])[0]
dash_uids = set(re.findall(r'"uid":\s*"([^"]+)"', "".join(json.dumps(d.get("panels", [])) for d in DASHBOARDS.values())))
ok(ds.get("url") == "http://prometheus:9090" and dash_uids == {ds.get("uid")}, "the dashboards' datasource is the provisioned Prometheus", (ds, dash_uids))
prov = (DOCS.get("docker/grafana/provisioning/dashboards/galley.yaml") or [{}])[0].get("providers", [{}])[0]
mounts = dict(v.split(":")[:2][::-1] for v in cs.get("grafana", {}).get("volumes", []))
ok(os.path.normpath(os.path.join(D, mounts.get(prov.get("options", {}).get("path"), "?"))) == D + "/grafana/dashboards", "Grafana loads docker/grafana/dashboards/ (the provisioned path is mounted)")

# ---------------------------------------------------------------- alerting rules and Alertmanager

# What galley's /metrics really has: lib/metrics_text.c's families (a histogram's three series)
# and the label names lib/metrics.c and lib/metrics_text.c write; and what Prometheus adds to
# its scrape (up, job, instance).
families = re.findall(r'\{\s*"(\w+)",\s*"(counter|gauge|histogram)"', read(TOP + "/lib/metrics_text.c"))
# nginx's own counters: each nginx answers them itself (nginx/metrics.js, /metrics/nginx).
families += re.findall(r"\['(\w+)', '(counter|gauge)'", read(TOP + "/nginx/metrics.js"))
# Each pool's own counters: its manager answers them (fcgi/pool/status.c, GET /metrics).
families += re.findall(r'\{\s*"(\w+)",\s*"(counter|gauge)"', read(TOP + "/fcgi/pool/status.c"))
EXPORTED = {f + s for f, t in families for s in (("_bucket", "_sum", "_count") if t == "histogram" else ("",))}
ok(METRICS <= EXPORTED, "every metric this test knows is one lib/metrics_text.c or nginx/metrics.js exports", sorted(METRICS - EXPORTED))
LABELS = set(re.findall(r'(\w+)=\\"', read(TOP + "/lib/metrics.c") + read(TOP + "/lib/metrics_text.c") + read(TOP + "/fcgi/pool/status.c"))) | {"job", "instance"}
rule_files = prom.get("rule_files", [])
ok(rule_files and all(os.path.exists(os.path.join(D, "prometheus", f)) for f in rule_files), "prometheus.yml's rule_files are in docker/prometheus/", rule_files)
prom_mounts = {v.split(":")[1]: v.split(":")[0] for v in cs.get("prometheus", {}).get("volumes", []) if isinstance(v, str)}
ok(all(os.path.normpath(os.path.join(D, prom_mounts.get("/etc/prometheus/" + f, "?"))) == os.path.normpath(os.path.join(D, "prometheus", f)) for f in rule_files),
   "compose mounts every rule file beside prometheus.yml in /etc/prometheus/", prom_mounts)
for f in rule_files:
    groups = (DOCS.get("docker/prometheus/" + f) or [{}])[0].get("groups", [])
    rules = [r for g in groups for r in g.get("rules", [])]
    recorded = {r["record"] for r in rules if "record" in r}
    alerts = [r for r in rules if "alert" in r]
    names, labels = set(), set()
    for r in rules:
        e = re.sub(r"\b\d+(?:ms|[smhdwy])\b", "", r.get("expr", ""))  # durations (offset 10m)
        names |= promql_metrics(e)
        labels |= set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)\s*\"", " ".join(re.findall(r"\{[^}]*\}", e))))
        for lst in re.findall(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", e):
            labels |= {w.strip() for w in lst.split(",") if w.strip()}
        for a in r.get("annotations", {}).values():
            labels |= set(re.findall(r"\$labels\.(\w+)", a))
    ok(alerts and names <= EXPORTED | recorded | {"up"}, "%s reads only metrics galley exports (lib/metrics_text.c), its own recorded series and up" % f, sorted(names - EXPORTED - recorded - {"up"}))
    ok(labels <= LABELS, "%s uses only labels galley writes (lib/metrics.c, lib/metrics_text.c) and job, instance" % f, sorted(labels - LABELS))
    ok(all(r.get("labels", {}).get("severity") in ("critical", "warning") and r.get("annotations", {}).get("summary") and r.get("annotations", {}).get("description") and r.get("for")
           for r in alerts), "%s: every alert has a severity (critical or warning), a summary, a description and a for:" % f,
       [r["alert"] for r in alerts if not (r.get("labels", {}).get("severity") and r.get("annotations", {}).get("summary") and r.get("for"))])
    ok(all("$labels.service" in r["annotations"].get("summary", "") for r in alerts if re.search(r"\bby \([^)]*\bservice\b", r["expr"])),
       "%s: the summary of every alert kept by service names the service" % f)
am_targets = [t for a in prom.get("alerting", {}).get("alertmanagers", []) for sc in a.get("static_configs", []) for t in sc.get("targets", [])]
ok(am_targets == ["alertmanager:9093"] and "alertmanager" in cs, "Prometheus sends its alerts to compose's alertmanager:9093", am_targets)
am_mounts = [v for v in cs.get("alertmanager", {}).get("volumes", []) if isinstance(v, str)]
ok(any(v.split(":")[:2] == ["./alertmanager/alertmanager.yml", "/etc/alertmanager/alertmanager.yml"] for v in am_mounts),
   "compose gives Alertmanager docker/alertmanager/alertmanager.yml (its image's default config path)", am_mounts)
am = (DOCS.get("docker/alertmanager/alertmanager.yml") or [{}])[0]
receivers = {r.get("name"): r for r in am.get("receivers", [])}


def route_receivers(route):
    return [route.get("receiver")] + [x for sub in route.get("routes", []) for x in route_receivers(sub)]


used_receivers = route_receivers(am.get("route", {}))
ok(am.get("route", {}).get("receiver") and all(r in receivers for r in used_receivers if r), "alertmanager.yml: every receiver its routes name is defined", used_receivers)
ok(any(w.get("url", "").startswith(("http://", "https://")) for r in receivers.values() for w in r.get("webhook_configs", [])), "alertmanager.yml has a webhook receiver")

# ---------------------------------------------------------------- the probe, against a real pool


def probe_run(*args):
    p = subprocess.run([D + "/galley-probe"] + list(args), capture_output=True, text=True, timeout=20)
    return p.returncode, p.stdout + p.stderr


tools = [t for t in ("cgi-fcgi",) if not shutil.which(t)]
pool_bin = BUILD + "/fcgi/pool/galley-pool"
svc = next((s for s in SERVICES if os.access("%s/fcgi/%s/galley-%s" % (BUILD, s, s), os.X_OK)), None)
if tools or svc is None or not os.access(pool_bin, os.X_OK):
    for w in ("healthz", "readyz"):
        skip("galley-probe %s against a pool" % w, "missing %s" % (tools or "a built service in " + BUILD))
else:
    port = free_port()
    dead = free_port()  # nothing listens there: MongoDB and Redis that do not answer
    env = dict(os.environ, GALLEY_MONGO_URI="mongodb://127.0.0.1:%d/?serverSelectionTimeoutMS=300" % dead,
               GALLEY_REDIS_URL="redis://127.0.0.1:%d/0" % dead, GALLEY_STORE_URL="redis://127.0.0.1:%d/0" % dead, GALLEY_DB_TIMEOUT_MS="300", GALLEY_REDIS_TIMEOUT_MS="100")
    # As in the image (docker/galley-pool): the pool manager on a TCP port.
    pool_p = subprocess.Popen([pool_bin, "--listen", "127.0.0.1:%d" % port, "--workers", "1", "--",
                               "%s/fcgi/%s/galley-%s" % (BUILD, svc, svc)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(100):  # until galley-pool listens
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                time.sleep(0.1)
        rc, out = probe_run("healthz", svc, "127.0.0.1:%d" % port)
        ok(rc == 0 and out.strip().endswith(": 200"), "galley-probe healthz: 200 from a %s pool over FastCGI (cgi-fcgi)" % svc, out)
        rc, out = probe_run("readyz", svc, "127.0.0.1:%d" % port)
        ok(rc == 1 and out.strip().endswith(": 503"), "galley-probe readyz fails with the 503 of a %s pool whose MongoDB and Redis are away" % svc, out)
        rc, out = probe_run("healthz", svc, "127.0.0.1:%d" % dead)
        ok(rc == 1 and "no answer" in out, "galley-probe fails where no pool listens", out)
    finally:
        os.killpg(pool_p.pid, signal.SIGTERM)
        try:
            pool_p.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(pool_p.pid, signal.SIGKILL)
            pool_p.wait()

shutil.rmtree(TMP, ignore_errors=True)
print("1..%d" % n)
sys.exit(1 if failed else 0)
