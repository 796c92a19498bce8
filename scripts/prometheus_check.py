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

Python 3 standard library only. Exits 0 when everything passed, 1 otherwise.
"""

import argparse
import base64
import collections
import hashlib
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

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
    'pulsegate_store_database_bytes{job="pulsegate"} > 0',
    'pulsegate_exposed_series{job="pulsegate"} > 0',
    'sum(rate(pulsegate_http_requests_total{job="pulsegate",route="unmatched",status="404"}[10s])) > 0',
    'host_memory_total_bytes{job="pulsegate"} > 0',
]


class Report:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.section = ""
        self.failures = collections.Counter()  # section -> failed checks

    def ok(self):
        self.passed += 1

    def fail(self, what):
        self.failed += 1
        self.failures[self.section] += 1

    def heading(self, text, section=None):
        self.section = section or text
        print(f"\n== {text}", flush=True)


def table(rows, headers):
    """Prints rows as columns; the last column is never padded (an expression may be long)."""
    widths = [max(len(str(r[i])) for r in [headers] + rows) for i in range(len(headers) - 1)]
    for r in [headers] + rows:
        cells = [str(c).ljust(widths[i]) for i, c in enumerate(r[:-1])] + [str(r[-1])]
        print("  ".join(cells).rstrip())
    sys.stdout.flush()


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
    report.heading(f"static: provisioning and dashboards in {os.path.relpath(grafana)}", "static")
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
        print(f"FAIL  {p}")
        report.fail(p)
    if not problems:
        n = sum(len(list(all_panels(d.get("panels", [])))) for _, d in dashboards)
        print(f"ok    2 provisioning files, {len(dashboards)} dashboards, {n} panels")
        report.ok()
    return dashboards


# ---------------------------------------------------------------- processes

class Processes:
    """Children of the check; their pids also go to <scratch>/pids so that the shell
    wrapper's trap can end them should this script die without its finally."""

    def __init__(self, scratch):
        self.scratch = scratch
        self.children = []

    def start(self, name, argv, log):
        out = open(log, "wb")
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        out.close()
        self.children.append((name, p))
        with open(os.path.join(self.scratch, "pids"), "a") as f:
            f.write(f"{p.pid}\n")
        return p

    def stop_all(self):
        for name, p in reversed(self.children):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    print(f"prometheus-check: {name} did not stop on SIGTERM; killing it", file=sys.stderr)
                    p.kill()
                    p.wait()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, headers=None, timeout=10):
    """(status, body bytes); an HTTP error status is an answer, not an exception."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def tail(path, lines=40):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


# ---------------------------------------------------------------- traffic

class WebSocketClient(threading.Thread):
    """A minimal RFC 6455 client over a plain socket: handshake, then reads and discards
    frames, answering pings, until stopped."""

    def __init__(self, port, stop):
        super().__init__(daemon=True)
        self.port = port
        self.stop = stop
        self.frames = 0
        self.error = None
        self.connected = False
        self.closed_by_server = None

    def run(self):
        try:
            self._run()
        except Exception as e:  # reported at the end
            if not self.stop.is_set():
                self.error = f"{type(e).__name__}: {e}"
        finally:
            self.connected = False

    def _recv_exact(self, sock, n):
        data = b""
        while len(data) < n:
            try:
                chunk = sock.recv(n - len(data))
            except socket.timeout:
                if self.stop.is_set():
                    raise EOFError("stopped")
                continue
            if not chunk:
                raise EOFError("connection closed by the server")
            data += chunk
        return data

    def _send(self, sock, opcode, payload=b""):
        mask = os.urandom(4)
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + n.to_bytes(2, "big")
        else:
            header += bytes([0x80 | 127]) + n.to_bytes(8, "big")
        sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _run(self):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall((f"GET /ws/metrics HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                      f"Origin: http://127.0.0.1:{self.port}\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                raise EOFError("connection closed during the handshake")
            head += chunk
        head, rest = head.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        if not lines[0].startswith("HTTP/1.1 101"):
            raise RuntimeError(f"handshake answered {lines[0]!r}")
        accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        headers = {l.split(":", 1)[0].strip().lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
        if headers.get("sec-websocket-accept") != accept:
            raise RuntimeError("wrong Sec-WebSocket-Accept")
        self.connected = True
        sock.settimeout(0.5)
        pending = rest

        def read(n):
            nonlocal pending
            if pending:
                take, pending = pending[:n], pending[n:]
                return take + (self._recv_exact(sock, n - len(take)) if len(take) < n else b"")
            return self._recv_exact(sock, n)

        try:
            while not self.stop.is_set():
                b0, b1 = read(2)
                opcode, n = b0 & 0x0F, b1 & 0x7F
                if n == 126:
                    n = int.from_bytes(read(2), "big")
                elif n == 127:
                    n = int.from_bytes(read(8), "big")
                mask = read(4) if b1 & 0x80 else None
                payload = read(n)
                if mask:
                    payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
                if opcode == 0x9:
                    self._send(sock, 0xA, payload)
                elif opcode == 0x8:
                    code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
                    self.closed_by_server = f"close frame {code} {payload[2:].decode(errors='replace')!r}"
                    return
                elif opcode in (0x1, 0x2, 0x0):
                    self.frames += 1
        except EOFError:
            if not self.stop.is_set():
                raise
        finally:
            try:
                if self.stop.is_set():
                    self._send(sock, 0x8, (1000).to_bytes(2, "big"))
            except OSError:
                pass
            sock.close()


class Traffic(threading.Thread):
    """Every second: GETs of each route, a 404, a valid push and an invalid one."""

    def __init__(self, base, stop):
        super().__init__(daemon=True)
        self.base = base
        self.stop = stop
        self.statuses = collections.defaultdict(collections.Counter)
        self.errors = collections.Counter()
        self.expected = {}
        self.rounds = 0

    def request(self, name, expected, method, path, body=None, headers=None):
        self.expected[name] = expected
        try:
            status, _ = http(method, self.base + path, body, headers, timeout=5)
            self.statuses[name][status] += 1
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

class Prometheus:
    def __init__(self, base):
        self.base = base

    def api(self, path, **params):
        url = f"{self.base}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        status, body = http("GET", url)
        data = json.loads(body)
        if data.get("status") != "success":
            raise RuntimeError(f"{data.get('errorType')}: {data.get('error')}")
        return data["data"]

    def query(self, expr):
        """(series count, finite-or-infinite values count); raises on a PromQL error."""
        data = self.api("query", query=expr)
        kind, result = data["resultType"], data["result"]
        if kind == "scalar":
            values = [result[1]]
        elif kind == "vector":
            values = [r["value"][1] for r in result]
        elif kind == "matrix":
            values = [v[1] for r in result for v in r["values"]]
        else:
            values = [result[1]]
        numbers = sum(1 for v in values if not math.isnan(float(v)))
        return (len(result) if kind in ("vector", "matrix") else 1), numbers


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

    report = Report()
    dashboards = static_checks(report, args.grafana)
    if args.static_only:
        return finish(report)
    if not args.scratch:
        parser.error("--scratch is needed for the live checks")
    if not os.access(args.binary, os.X_OK):
        print(f"prometheus-check: {args.binary} is missing: run swift build first (or pass --binary)", file=sys.stderr)
        return 1

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    procs = Processes(args.scratch)
    stop = threading.Event()
    server_log = os.path.join(args.scratch, "pulsegate.log")
    prom_log = os.path.join(args.scratch, "prometheus.log")
    server = prometheus = None
    ws = traffic = None
    try:
        report.heading(f"pulsegate: {args.binary}", "start")
        public = os.path.join(args.scratch, "public")
        os.makedirs(public)
        with open(os.path.join(public, "index.html"), "w") as f:
            f.write("<!doctype html><title>prometheus-check</title>\n")
        server = procs.start("pulsegate", [args.binary, "--port", "0", "--db", os.path.join(args.scratch, "db.sqlite"),
                                           "--collect-interval", "1s", "--public-dir", public], server_log)
        port = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and server.poll() is None:
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", tail(server_log, 200))
            if m:
                port = int(m.group(1))
                break
            time.sleep(0.1)
        if port is None:
            print("prometheus-check: pulsegate did not start:\n" + tail(server_log), file=sys.stderr)
            report.fail("pulsegate did not start")
            return finish(report)
        base = f"http://127.0.0.1:{port}"
        print(f"listening on {base}")
        traffic = Traffic(base, stop)
        traffic.start()
        ws = WebSocketClient(port, stop)
        ws.start()

        report.heading("prometheus", "start")
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
      - targets: ['127.0.0.1:{port}']
""")
        out = subprocess.run([args.promtool, "check", "config", config], capture_output=True, text=True)
        if out.returncode != 0:
            print(out.stdout + out.stderr)
            report.fail("promtool check config")
            return finish(report)
        version = subprocess.run([args.prometheus, "--version"], capture_output=True, text=True)
        print((version.stdout or version.stderr).splitlines()[0])
        prometheus = procs.start("prometheus", [
            args.prometheus, f"--config.file={config}",
            f"--storage.tsdb.path={os.path.join(args.scratch, 'tsdb')}",
            f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"], prom_log)
        prom = Prometheus(f"http://127.0.0.1:{prom_port}")
        up_since = None
        last = "no answer"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if prometheus.poll() is not None or server.poll() is not None:
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
            print(f"prometheus-check: the target never came up ({last})", file=sys.stderr)
            print(tail(prom_log), file=sys.stderr)
            if server.poll() is not None:
                print("pulsegate exited:\n" + tail(server_log), file=sys.stderr)
            report.fail("scrape target up")
            return finish(report)
        print(f"target 127.0.0.1:{port} is up on Prometheus 127.0.0.1:{prom_port}; scraping for {args.seconds:g} s")
        while time.monotonic() - up_since < args.seconds:
            if server.poll() is not None:
                break
            time.sleep(0.5)

        report.heading("promtool check metrics (live /metrics)", "promtool")
        status, body = http("GET", base + "/metrics")
        if status != 200:
            print(f"FAIL  GET /metrics answered {status}")
            report.fail("GET /metrics")
        else:
            lint = subprocess.run([args.promtool, "check", "metrics"], input=body, capture_output=True)
            output = (lint.stdout + lint.stderr).decode(errors="replace").strip()
            families = len(re.findall(rb"^# TYPE ", body, re.M))
            if output or lint.returncode != 0:
                print(f"FAIL  promtool (exit {lint.returncode}) on {families} metric families:")
                print("\n".join("      " + l for l in output.splitlines()))
                report.fail("promtool check metrics")
            else:
                print(f"ok    {families} metric families, no problem")
                report.ok()

        known = set(prom.api("label/__name__/values"))

        report.heading("expected series", "series")
        rows = []
        for group, selector in EXPECTED_SERIES:
            try:
                n, _ = prom.query(selector)
                status = "ok" if n else "MISSING"
            except (OSError, ValueError, RuntimeError) as e:
                n, status = 0, f"ERROR {e}"
            if n:
                report.ok()
            else:
                report.fail(f"series {selector}")
                name = selector.split("{")[0]
                if name in known:
                    status += " (name exists, not these labels)"
            rows.append((status, group, n, selector))
        table(rows, ("status", "group", "series", "selector"))

        report.heading("expected values", "values")
        rows = []
        for expr in EXPECTED_VALUES:
            try:
                n, _ = prom.query(expr)
                status = "ok" if n else "FAIL"
            except (OSError, ValueError, RuntimeError) as e:
                n, status = 0, f"ERROR {e}"
            if n:
                report.ok()
            else:
                report.fail(f"value {expr}")
            rows.append((status, n, expr))
        table(rows, ("status", "series", "expression"))

        report.heading("dashboard panel queries ($__rate_interval=10s, $__interval=5s, $__range=1m, query variables=.*)", "panels")
        rows, notes = [], []
        for file, d in dashboards:
            values = variable_values(d)
            for p in all_panels(d.get("panels", [])):
                if p.get("type") == "row":
                    continue
                for t in p.get("targets", []):
                    expr = t.get("expr", "")
                    title = f"{p.get('title')} [{t.get('refId')}]"
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
                    if status == "ok":
                        report.ok()
                    else:
                        report.fail(f"panel {d.get('uid')} / {title}: {status}")
                        notes.append(f"  {d.get('uid')} / {title}: {status}: {note}")
                    rows.append((status, d.get("uid"), title, n, expr))
        table(rows, ("status", "dashboard", "panel", "series", "expr"))
        if notes:
            print("why:")
            print("\n".join(notes))

        report.heading("traffic", "traffic")
        stop.set()
        rows = []
        for name, counts in traffic.statuses.items():
            expected = traffic.expected[name]
            good = counts.get(expected, 0) == sum(counts.values())
            rows.append(("ok" if good else "FAIL", name, expected, ", ".join(f"{s}×{c}" for s, c in sorted(counts.items()))))
            if good:
                report.ok()
            else:
                report.fail(f"traffic {name}")
        for error, count in traffic.errors.items():
            rows.append(("FAIL", error, "", f"×{count}"))
            report.fail(f"traffic {error}")
        table(rows, ("status", "request", "expected", "answers"))
        ws_state = f"{ws.frames} frames received"
        if ws.error or ws.closed_by_server or not ws.frames:
            reason = ws.error or ws.closed_by_server or "no frame"
            print(f"FAIL  WebSocket client on /ws/metrics: {ws_state}; {reason}")
            report.fail("WebSocket client")
        else:
            print(f"ok    WebSocket client on /ws/metrics: {ws_state}, open throughout")
            report.ok()
        if server.poll() is not None:
            print(f"FAIL  pulsegate exited with {server.returncode} during the check:\n{tail(server_log)}")
            report.fail("pulsegate exited")
        return finish(report)
    finally:
        stop.set()
        procs.stop_all()
        for t in (ws, traffic):
            if t is not None:
                t.join(timeout=5)


def finish(report):
    report.heading("summary")
    for section, count in report.failures.items():
        print(f"  {section}: {count} failed")
    print(f"prometheus-check: {report.passed} passed, {report.failed} failed", flush=True)
    return 0 if report.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
