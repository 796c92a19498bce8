#!/usr/bin/env python3
"""Checks Pulsegate's /metrics against Prometheus and the Grafana dashboards in grafana/.

Run through scripts/prometheus-check, which installs Prometheus if needed, makes the
scratch directory and removes it (and anything this left running) afterwards.

1. Statically: the provisioning files and both dashboards (JSON, schemaVersion, uids,
   unique panel ids, the fixed datasource uid on every panel and target, units, rate
   windows, template variables only in regular-expression matchers).
2. Live: starts pulsegate on a scratch database with traffic of every kind (HTTP routes,
   pushes valid and invalid, one WebSocket client kept open), lints /metrics with
   `promtool check metrics`, has Prometheus scrape it every second, then checks that each
   expected series exists and that every panel query of both dashboards returns data.

   It also judges the figures by what the check reads itself: /healthz's uptime against the
   time since it started the process, the process_* figures against /proc/<pid>, and
   pulsegate_store_database_bytes against the database and WAL files.

Python 3 standard library only (and scripts/pulsecheck.py). Ends with a table of every
check and `N passed, M failed`; exits 0 when everything passed, 1 otherwise.
"""

import argparse
import collections
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

from pulsecheck import (Prometheus, Pulsegate, ProcFigures, Report, WebSocket, close_code, free_port, http,
                        judge_database_bytes, judge_process_figures, judge_uptime, parse_metrics, tail)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GRAFANA = os.path.join(ROOT, "grafana")
DATASOURCE = {"type": "prometheus", "uid": "pulsegate-prometheus"}
DASHBOARDS = [("pulsegate-overview.json", "pulsegate-overview"), ("pulsegate-host.json", "pulsegate-host")]
MIN_SCHEMA_VERSION = 39
# Grafana's global variables, as Grafana would set them for a scrape interval of 1 s.
GLOBALS = {
    "__rate_interval": "10s",
    "__interval": "5s",
    "__interval_ms": "5000",
    "__range": "1m",
    "__range_s": "60",
    "__range_ms": "60000",
}
ALLOWED_RANGES = {"$__rate_interval", "$__interval", "$__range", "${__rate_interval}", "${__interval}", "${__range}"}
UNIT_PANELS = {"timeseries", "stat", "gauge", "bargauge"}
JOB = "pulsegate"
PUSHED_JOB = "prometheus-check"

# Series that must exist once Prometheus has scraped a few times while the traffic runs.
EXPECTED_SERIES = [
    ("own", 'pulsegate_build_info{job="pulsegate",version!="",swift!=""}'),
    ("own", 'pulsegate_http_requests_total{job="pulsegate",route="/healthz",method="GET",status="200"}'),
    ("own", 'pulsegate_http_requests_total{job="pulsegate",route="/history",method="GET",status="200"}'),
    ("own", 'pulsegate_http_requests_total{job="pulsegate",route="/api/series",method="GET",status="200"}'),
    ("own", 'pulsegate_http_requests_total{job="pulsegate",route="/metrics",method="GET",status="200"}'),
    ("own", 'pulsegate_http_requests_total{job="pulsegate",route="/ingest",method="POST",status="200"}'),
    ("own", 'pulsegate_http_requests_total{job="pulsegate",route="/ingest",method="POST",status="400"}'),
    ("own", 'pulsegate_http_requests_total{job="pulsegate",route="unmatched",status="404"}'),
    ("own", 'pulsegate_http_requests_total{job="pulsegate",route="static",method="GET"}'),
    ("own", 'pulsegate_http_request_duration_seconds_bucket{job="pulsegate",route="/history",method="GET"}'),
    ("own", 'pulsegate_http_request_duration_seconds_sum{job="pulsegate",route="/ingest",method="POST"}'),
    ("own", 'pulsegate_http_request_duration_seconds_count{job="pulsegate",route="/healthz",method="GET"}'),
    ("own", 'pulsegate_ws_clients{job="pulsegate"}'),
    ("own", 'pulsegate_ws_frames_sent_total{job="pulsegate"}'),
    ("own", 'pulsegate_ws_frames_dropped_total{job="pulsegate"}'),
    ("own", 'pulsegate_ws_slow_clients_closed_total{job="pulsegate"}'),
    ("own", 'pulsegate_ws_replays_total{job="pulsegate"}'),
    ("own", 'pulsegate_ws_resets_total{job="pulsegate"}'),
    ("own", 'pulsegate_samples_accepted_total{job="pulsegate",source="collector"}'),
    ("own", 'pulsegate_samples_accepted_total{job="pulsegate",source="ingest"}'),
    ("own", 'pulsegate_samples_rejected_total{job="pulsegate",source="ingest",reason!=""}'),
    ("own", 'pulsegate_ingest_requests_accepted_total{job="pulsegate"}'),
    ("own", 'pulsegate_ingest_samples_accepted_total{job="pulsegate"}'),
    ("own", 'pulsegate_ingest_requests_rejected_total{job="pulsegate",reason="invalid_samples"}'),
    ("own", 'pulsegate_store_batch_samples_bucket{job="pulsegate"}'),
    ("own", 'pulsegate_store_batch_samples_sum{job="pulsegate"}'),
    ("own", 'pulsegate_store_batch_samples_count{job="pulsegate"}'),
    ("own", 'pulsegate_store_commit_duration_seconds_bucket{job="pulsegate"}'),
    ("own", 'pulsegate_store_commit_duration_seconds_sum{job="pulsegate"}'),
    ("own", 'pulsegate_store_commit_duration_seconds_count{job="pulsegate"}'),
    ("own", 'pulsegate_store_rows_written_total{job="pulsegate"}'),
    ("own", 'pulsegate_store_retention_deleted_rows_total{job="pulsegate"}'),
    ("own", 'pulsegate_store_write_errors_total{job="pulsegate"}'),
    ("own", 'pulsegate_store_database_bytes{job="pulsegate"}'),
    ("own", 'pulsegate_collector_read_errors_total{job="pulsegate",file!=""}'),
    ("own", 'pulsegate_exposed_series{job="pulsegate"}'),
    ("own", 'process_cpu_seconds_total{job="pulsegate"}'),
    ("own", 'process_resident_memory_bytes{job="pulsegate"}'),
    ("own", 'process_virtual_memory_bytes{job="pulsegate"}'),
    ("own", 'process_open_fds{job="pulsegate"}'),
    ("own", 'process_max_fds{job="pulsegate"}'),
    ("own", 'process_start_time_seconds{job="pulsegate"}'),
    ("host", 'host_cpu_usage_ratio{job="pulsegate",cpu="all"}'),
    ("host", 'host_cpu_usage_ratio{job="pulsegate",cpu="0"}'),
    ("host", 'host_memory_total_bytes{job="pulsegate"}'),
    ("host", 'host_memory_available_bytes{job="pulsegate"}'),
    ("host", 'host_memory_used_bytes{job="pulsegate"}'),
    ("host", 'host_load1{job="pulsegate"}'),
    ("host", 'host_load5{job="pulsegate"}'),
    ("host", 'host_load15{job="pulsegate"}'),
    ("host", 'host_network_receive_bytes_per_second{job="pulsegate",device!=""}'),
    ("host", 'host_network_transmit_bytes_per_second{job="pulsegate",device!=""}'),
    ("host", 'pulsegate_process_cpu_usage_ratio{job="pulsegate"}'),
    ("host", 'pulsegate_process_resident_memory_bytes{job="pulsegate"}'),
    # Pushed series come out under their own names; with honor_labels their own job wins.
    ("pushed", 'check_pushed_value{job="pulsegate",stream="plain"}'),
    ("pushed", 'check_pushed_value{job="prometheus-check",instance="pushed-1"}'),
]

# Values that the traffic of the check must have produced.
EXPECTED_VALUES = [
    "up{job=\"pulsegate\"} == 1",
    'pulsegate_build_info{job="pulsegate"} == 1',
    'pulsegate_ws_clients{job="pulsegate"} >= 1',
    'rate(pulsegate_ws_frames_sent_total{job="pulsegate"}[10s]) > 0',
    'rate(pulsegate_samples_accepted_total{job="pulsegate",source="collector"}[10s]) > 0',
    'rate(pulsegate_samples_accepted_total{job="pulsegate",source="ingest"}[10s]) > 0',
    'sum(increase(pulsegate_samples_rejected_total{job="pulsegate",source="ingest"}[10s])) > 0',
    'rate(pulsegate_store_rows_written_total{job="pulsegate"}[10s]) > 0',
    'pulsegate_exposed_series{job="pulsegate"} > 0',
    'sum(rate(pulsegate_http_requests_total{job="pulsegate",route="unmatched",status="404"}[10s])) > 0',
    'host_memory_total_bytes{job="pulsegate"} > 0',
]


# ---------------------------------------------------------------- static checks

VARIABLE = re.compile(r"\$\{(\w+)(?:[:.][^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)")


def variable_values(dashboard):
    """Template variable -> the value the check substitutes. A query variable becomes `.*`
    (what "All" matches, so it must sit in a =~ matcher); others keep their current value."""
    values = {}
    for v in dashboard.get("templating", {}).get("list", []):
        name = v.get("name")
        if v.get("type") == "query":
            values[name] = (v.get("allValue") or ".*") if v.get("includeAll") else ".*"
        else:
            current = (v.get("current") or {}).get("value")
            if isinstance(current, list):
                current = "|".join(current)
            values[name] = current if current not in (None, "") else v.get("query", "")
    return values


def substitute(expr, values):
    def replace(m):
        name = m.group(1) or m.group(2) or m.group(3)
        if name in GLOBALS:
            return GLOBALS[name]
        if name in values:
            return values[name]
        raise KeyError(name)
    return VARIABLE.sub(replace, expr)


def all_panels(panels):
    for p in panels:
        yield p
        yield from all_panels(p.get("panels", []))


def check_expr(where, expr, values, problems):
    for m in VARIABLE.finditer(expr):
        name = m.group(1) or m.group(2) or m.group(3)
        if name not in GLOBALS and name not in values:
            problems.append(f"{where}: unknown variable ${name} in {expr!r}")
    unquoted = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    for window in re.findall(r"\[([^\]]*)\]", unquoted):
        if window.startswith("[") or window.strip() in ALLOWED_RANGES:
            continue
        if window.strip().startswith("$") or ":" not in window:
            problems.append(f"{where}: range [{window}] should be [$__rate_interval] (or $__range), in {expr!r}")
    # A template variable inside a matcher needs a regular-expression matcher: "All" is `.*`.
    for m in re.finditer(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"', expr):
        if "$" in m.group(3) and m.group(2) not in ("=~", "!~"):
            problems.append(f"{where}: {m.group(0)} uses a variable with {m.group(2)}; use =~ (All is .*)")


def static_checks(report, grafana):
    report.heading("static", f"static: provisioning and dashboards in {os.path.relpath(grafana)}")
    problems = []
    ds_file = os.path.join(grafana, "provisioning", "datasources", "pulsegate.yml")
    db_file = os.path.join(grafana, "provisioning", "dashboards", "pulsegate.yml")
    for path, needles in ((ds_file, ["type: prometheus", "uid: pulsegate-prometheus", "url: "]),
                          (db_file, ["type: file", "folder: Pulsegate", "path: /var/lib/grafana/dashboards/pulsegate"])):
        try:
            text = open(path).read()
        except OSError as e:
            problems.append(f"{os.path.relpath(path, grafana)}: {e.strerror}")
            continue
        for needle in needles:
            if needle not in text:
                problems.append(f"{os.path.relpath(path, grafana)}: no line with {needle!r}")

    dashboards = []
    for file, uid in DASHBOARDS:
        path = os.path.join(grafana, "dashboards", file)
        where = f"dashboards/{file}"
        try:
            with open(path) as f:
                d = json.load(f)
        except (OSError, ValueError) as e:
            problems.append(f"{where}: {e}")
            continue
        dashboards.append((file, d))
        if not isinstance(d.get("schemaVersion"), int) or d["schemaVersion"] < MIN_SCHEMA_VERSION:
            problems.append(f"{where}: schemaVersion {d.get('schemaVersion')!r}, want >= {MIN_SCHEMA_VERSION}")
        if d.get("uid") != uid:
            problems.append(f"{where}: uid {d.get('uid')!r}, want {uid!r}")
        if not d.get("title"):
            problems.append(f"{where}: no title")
        if d.get("id") is not None:
            problems.append(f"{where}: id should be null (Grafana assigns it)")
        values = variable_values(d)
        for v in d.get("templating", {}).get("list", []):
            if v.get("type") == "query" and v.get("datasource") != DATASOURCE:
                problems.append(f"{where}: variable {v.get('name')} datasource {v.get('datasource')!r}, want {DATASOURCE}")
        panels = list(all_panels(d.get("panels", [])))
        if not panels:
            problems.append(f"{where}: no panels")
        ids = collections.Counter(p.get("id") for p in panels)
        for pid, n in ids.items():
            if not isinstance(pid, int):
                problems.append(f"{where}: panel id {pid!r} is not an integer")
            elif n > 1:
                problems.append(f"{where}: panel id {pid} used {n} times")
        for p in panels:
            pw = f"{where}: panel {p.get('id')} {p.get('title')!r}"
            if p.get("datasource") != DATASOURCE:
                problems.append(f"{pw}: datasource {p.get('datasource')!r}, want {DATASOURCE}")
            if "gridPos" not in p:
                problems.append(f"{pw}: no gridPos")
            if p.get("type") == "row":
                continue
            if p.get("type") in UNIT_PANELS and not p.get("fieldConfig", {}).get("defaults", {}).get("unit"):
                problems.append(f"{pw}: no unit (fieldConfig.defaults.unit)")
            targets = p.get("targets") or []
            if not targets:
                problems.append(f"{pw}: no targets")
            refs = collections.Counter(t.get("refId") for t in targets)
            for ref, n in refs.items():
                if n > 1:
                    problems.append(f"{pw}: refId {ref} used {n} times")
            for t in targets:
                if "datasource" in t and t["datasource"] != DATASOURCE:
                    problems.append(f"{pw} {t.get('refId')}: datasource {t['datasource']!r}, want {DATASOURCE}")
                if not (t.get("expr") or "").strip():
                    problems.append(f"{pw} {t.get('refId')}: empty expr")
                else:
                    check_expr(f"{pw} {t.get('refId')}", t["expr"], values, problems)
    for p in problems:
        report.check("dashboards", False, p)
    if not problems:
        n = sum(len(list(all_panels(d.get("panels", [])))) for _, d in dashboards)
        report.check("dashboards", True, f"2 provisioning files, {len(dashboards)} dashboards, {n} panels")
    return dashboards


# ---------------------------------------------------------------- traffic

class LiveClient(threading.Thread):
    """One live client on /ws/metrics, kept open throughout: reads and counts frames
    (pings are answered by WebSocket.recv) until stopped."""

    def __init__(self, port, stop):
        super().__init__(daemon=True)
        self.port = port
        self.stop = stop
        self.frames = 0
        self.error = None
        self.closed_by_server = None

    def run(self):
        ws = None
        try:
            ws = WebSocket.connect(self.port, headers={"Origin": f"http://127.0.0.1:{self.port}"})
            while not self.stop.is_set():
                opcode, payload = ws.recv(timeout=0.5)
                if opcode == 0x8:
                    self.closed_by_server = f"close frame {close_code(payload)} {payload[2:].decode(errors='replace')!r}"
                    return
                if opcode in (0x1, 0x2):
                    self.frames += 1
        except Exception as e:  # reported at the end
            if not self.stop.is_set():
                self.error = f"{type(e).__name__}: {e}"
        finally:
            if ws is not None:
                ws.close(1000 if self.stop.is_set() else None)


class Traffic(threading.Thread):
    """Every second: GETs of each route, a 404, a valid push and an invalid one."""

    def __init__(self, server, stop):
        super().__init__(daemon=True)
        self.server = server
        self.base = server.base
        self.stop = stop
        self.statuses = collections.defaultdict(collections.Counter)
        self.errors = collections.Counter()
        self.expected = {}
        self.rounds = 0
        self.uptimes = []  # (ok, detail) of each /healthz answer


    def request(self, name, expected, method, path, body=None, headers=None):
        self.expected[name] = expected
        try:
            asked = time.monotonic()
            answer = http(method, self.base + path, body, headers, timeout=5)
            self.statuses[name][answer.status] += 1
            if path == "/healthz" and answer.status == 200:
                self.uptimes.append(judge_uptime(self.server, answer.json().get("uptime_seconds"), asked, time.monotonic()))
        except Exception as e:
            self.errors[f"{name}: {type(e).__name__}: {e}"] += 1

    def run(self):
        json_headers = {"Content-Type": "application/json"}
        while not self.stop.is_set():
            started = time.monotonic()
            self.rounds += 1
            self.request("GET /healthz", 200, "GET", "/healthz")
            self.request("GET /history", 200, "GET", "/history?metric=host_load1&from=-1m")
            self.request("GET /api/series", 200, "GET", "/api/series")
            self.request("GET /metrics", 200, "GET", "/metrics")
            self.request("GET / (static)", 200, "GET", "/")
            self.request("GET /no-such-route", 404, "GET", "/no-such-route")
            valid = {"samples": [
                {"metric": "check_pushed_value", "labels": {"stream": "plain"}, "value": self.rounds},
                {"metric": "check_pushed_value", "labels": {"stream": "other"}, "value": self.rounds * 2},
                {"metric": "check_pushed_value", "labels": {"job": PUSHED_JOB, "instance": "pushed-1"}, "value": 1},
            ]}
            self.request("POST /ingest valid", 200, "POST", "/ingest", json.dumps(valid).encode(), json_headers)
            invalid = {"samples": [{"metric": "1_not_a_metric_name", "value": 1}]}
            self.request("POST /ingest invalid", 400, "POST", "/ingest", json.dumps(invalid).encode(), json_headers)
            self.stop.wait(max(0.0, 1.0 - (time.monotonic() - started)))


# ---------------------------------------------------------------- Prometheus

METRIC_NAME = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{")
KNOWN_PREFIXES = ("pulsegate_", "host_", "process_", "check_")


def metric_names(expr):
    names = set(METRIC_NAME.findall(expr))
    names |= {t for t in re.findall(r"\b[a-zA-Z_:][a-zA-Z0-9_:]*\b", expr) if t.startswith(KNOWN_PREFIXES)}
    return sorted(n for n in names if n.startswith(KNOWN_PREFIXES))


# ---------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build/debug/pulsegate"))
    parser.add_argument("--scratch", help="an empty directory of the check's own (the wrapper makes it)")
    parser.add_argument("--seconds", type=float, default=15, help="scraping before the queries run (default 15)")
    parser.add_argument("--prometheus", default="prometheus")
    parser.add_argument("--promtool", default="promtool")
    parser.add_argument("--grafana", default=GRAFANA, help="the grafana/ folder to check (default: the repository's)")
    parser.add_argument("--static-only", action="store_true", help="validate the dashboards only")
    args = parser.parse_args()

    report = Report("prometheus-check")
    dashboards = static_checks(report, args.grafana)
    if args.static_only:
        return report.finish()
    if not args.scratch:
        parser.error("--scratch is needed for the live checks")
    if not os.access(args.binary, os.X_OK):
        print(f"prometheus-check: {args.binary} is missing: run swift build first (or pass --binary)", file=sys.stderr)
        return 1

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    pids = os.path.join(args.scratch, "pids")
    stop = threading.Event()
    prom_log = os.path.join(args.scratch, "prometheus.log")
    server = prometheus = None
    ws = traffic = None
    try:
        report.heading("start", f"pulsegate: {args.binary}")
        public = os.path.join(args.scratch, "public")
        os.makedirs(public)
        with open(os.path.join(public, "index.html"), "w") as f:
            f.write("<!doctype html><title>prometheus-check</title>\n")
        server = Pulsegate(args.binary, os.path.join(args.scratch, "pulsegate"), "--collect-interval", "1s",
                           "--public-dir", public, pids_file=pids)
        if not report.started(server):
            return report.finish()
        base = server.base
        traffic = Traffic(server, stop)
        traffic.start()
        ws = LiveClient(server.port, stop)
        ws.start()

        report.heading("start", "prometheus")
        prom_port = free_port()
        config = os.path.join(args.scratch, "prometheus.yml")
        with open(config, "w") as f:
            f.write(f"""global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: {JOB}
    honor_labels: true
    static_configs:
      - targets: ['127.0.0.1:{server.port}']
""")
        out = subprocess.run([args.promtool, "check", "config", config], capture_output=True, text=True)
        if not report.check("promtool check config", out.returncode == 0, out.stdout + out.stderr):
            return report.finish()
        version = subprocess.run([args.prometheus, "--version"], capture_output=True, text=True)
        print((version.stdout or version.stderr).splitlines()[0])
        with open(prom_log, "wb") as log:
            prometheus = subprocess.Popen([
                args.prometheus, f"--config.file={config}",
                f"--storage.tsdb.path={os.path.join(args.scratch, 'tsdb')}",
                f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        with open(pids, "a") as f:
            f.write(f"{prometheus.pid}\n")
        prom = Prometheus(f"http://127.0.0.1:{prom_port}")
        up_since = None
        last = "no answer"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if prometheus.poll() is not None or not server.running():
                break
            try:
                targets = prom.api("targets")["activeTargets"]
                ours = [t for t in targets if t["labels"].get("job") == JOB]
                if ours and ours[0]["health"] == "up":
                    up_since = time.monotonic()
                    break
                if ours:
                    last = f"{ours[0]['health']} {ours[0].get('lastError', '')}"
            except (OSError, ValueError, RuntimeError) as e:
                last = f"{type(e).__name__}: {e}"
            time.sleep(0.5)
        if up_since is None:
            detail = f"{last}; {tail(prom_log)}"
            if not server.running():
                detail += f"; pulsegate exited: {server.log_tail()}"
            report.check("scrape target up", False, detail)
            return report.finish()
        report.check("scrape target up", True, f"127.0.0.1:{server.port} on Prometheus 127.0.0.1:{prom_port}; "
                                               f"scraping for {args.seconds:g} s")
        while time.monotonic() - up_since < args.seconds:
            if not server.running():
                break
            time.sleep(0.5)

        report.heading("promtool", "promtool check metrics (live /metrics)")
        answer = http("GET", base + "/metrics")
        if not report.check("GET /metrics", answer.status == 200, f"answered {answer.status}"):
            pass
        else:
            lint = subprocess.run([args.promtool, "check", "metrics"], input=answer.body, capture_output=True)
            output = (lint.stdout + lint.stderr).decode(errors="replace").strip()
            families = len(re.findall(rb"^# TYPE ", answer.body, re.M))
            report.check("promtool check metrics", not output and lint.returncode == 0,
                         f"exit {lint.returncode} on {families} metric families: {output}" if output or lint.returncode
                         else f"{families} metric families, no problem")

        report.heading("figures", "figures against what the check reads itself (the clock, /proc/<pid>, the files)")
        asked = time.monotonic()
        health = http("GET", base + "/healthz")
        ok, detail = judge_uptime(server, health.json().get("uptime_seconds"), asked, time.monotonic())
        report.check("/healthz uptime_seconds", health.status == 200 and ok, detail)
        wrong = [d for ok, d in traffic.uptimes if not ok]
        report.check(f"/healthz uptime_seconds in each of the traffic's {len(traffic.uptimes)} answers",
                     traffic.uptimes and not wrong, wrong[0] if wrong else "all within the check's clock")
        before = ProcFigures(server.pid)
        values = parse_metrics(http("GET", base + "/metrics").body.decode())
        after = ProcFigures(server.pid)
        for name, ok, detail in judge_process_figures(values, before, after):
            report.check(f"{name} (/proc/{server.pid})", ok, detail)
        report.check("pulsegate_store_database_bytes (db + wal files)", *judge_database_bytes(server))

        known = set(prom.api("label/__name__/values"))

        report.heading("series", "expected series")
        for group, selector in EXPECTED_SERIES:
            try:
                n, _ = prom.query(selector)
                detail = f"{group}: {n} series"
                if not n and selector.split("{")[0] in known:
                    detail += " (the name exists, not these labels)"
            except (OSError, ValueError, RuntimeError) as e:
                n, detail = 0, f"ERROR {e}"
            report.check(selector, n > 0, detail)

        report.heading("values", "expected values")
        for expr in EXPECTED_VALUES:
            try:
                n, _ = prom.query(expr)
                detail = f"{n} series"
            except (OSError, ValueError, RuntimeError) as e:
                n, detail = 0, f"ERROR {e}"
            report.check(expr, n > 0, detail)

        report.heading("panels", "dashboard panel queries ($__rate_interval=10s, $__interval=5s, $__range=1m, query variables=.*)")
        for file, d in dashboards:
            values = variable_values(d)
            for p in all_panels(d.get("panels", [])):
                if p.get("type") == "row":
                    continue
                for t in p.get("targets", []):
                    expr = t.get("expr", "")
                    title = f"{d.get('uid')} / {p.get('title')} [{t.get('refId')}]"
                    n, note = 0, ""
                    try:
                        expr = substitute(expr, values)
                        n, numbers = prom.query(expr)
                        if n and numbers:
                            status = "ok"
                        elif n:
                            status, note = "NaN", "every value is NaN"
                        else:
                            status = "EMPTY"
                            missing = [m for m in metric_names(expr) if m not in known]
                            note = f"not exposed: {', '.join(missing)}" if missing else "metrics exist, no matching series"
                    except KeyError as e:
                        status, note = "ERROR", f"unknown variable {e}"
                    except (OSError, ValueError, RuntimeError) as e:
                        status, note = "ERROR", str(e)
                    report.check(title, status == "ok", f"{n} series: {expr}" + (f" ({status}: {note})" if note else ""))

        report.heading("traffic")
        stop.set()
        for name, counts in traffic.statuses.items():
            expected = traffic.expected[name]
            good = counts.get(expected, 0) == sum(counts.values())
            report.check(name, good, f"expected {expected}, answers " + ", ".join(f"{s}×{c}" for s, c in sorted(counts.items())))
        for error, count in traffic.errors.items():
            report.check(error, False, f"×{count}")
        ws.join(timeout=10)
        reason = ws.error or ws.closed_by_server or ("no frame" if not ws.frames else "")
        report.check("WebSocket client on /ws/metrics", not reason,
                     f"{ws.frames} frames received" + (f"; {reason}" if reason else ", open throughout"))
        running = server.running()
        code = server.stop()
        report.check("pulsegate ran throughout and stopped cleanly on SIGTERM", running and code == 0,
                     f"exit status {code}" + ("" if running else f" (had exited during the check: {server.log_tail()})"))
        return report.finish()
    finally:
        stop.set()
        if prometheus is not None and prometheus.poll() is None:
            prometheus.terminate()
            try:
                prometheus.wait(timeout=15)
            except subprocess.TimeoutExpired:
                prometheus.kill()
                prometheus.wait()
        if server is not None:
            server.stop()
        for t in (ws, traffic):
            if t is not None:
                t.join(timeout=5)


if __name__ == "__main__":
    sys.exit(main())
