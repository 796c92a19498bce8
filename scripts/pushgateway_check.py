#!/usr/bin/env python3
"""Checks the Pushgateway-compatible push API against a real sender, Python's prometheus-client,
side by side with Debian's Pushgateway.

Run through scripts/prometheus-check, which installs both (prometheus-pushgateway, and
prometheus-client from PyPI), makes the scratch directory and removes it (and anything
this left running) afterwards.

1-7. The same pushes go to a Pushgateway and to a started pulsegate, and after each one
   their /metrics must show the pushed families alike, byte for byte: HELP, TYPE and
   sample lines in the same order. push_time_seconds and push_failure_time_seconds are
   each gateway's own clock: they must be 0 where nothing was pushed (or failed), and
   otherwise within the wall-clock window of the push that set them. The pushes:
   push_to_gateway of a gauge, a labelled counter, a summary and a histogram to a group
   whose grouping key has a "/" and an empty value (both sent @base64); pushadd_to_gateway
   of a second job sharing a gauge with the first; pushadd of one family to the first
   group (the others stay); push_to_gateway of one family to the second group (the
   others go); client_golang's protobuf delimited format (encoded here from
   metrics.proto), which each gateway decodes itself; a raw push with a timestamp (400, the failure stamped, the group kept);
   delete_from_gateway of the first group. pulsegate's answers and its
   GET /api/v1/push-groups must agree with what was pushed.
8. Every sample of the first push is in pulsegate's /history, labelled as the Pushgateway
   labels it (le="100" where the client sent "100.0"; empty labels left out), with a
   timestamp within the push.
9. A live client on /ws/metrics sees a push's samples arrive.
10. With --push-group-ttl 3s: a group goes from /metrics after its TTL and not before,
   is counted in pulsegate_push_groups_expired_total, and its samples stay in /history;
   a push with Pulsegate-Group-TTL: 0 never expires, one with 1s expires sooner.

Python 3 standard library, scripts/pulsecheck.py and prometheus-client. Ends with a table
of every check and `N passed, M failed`; exits 0 when everything passed, 1 otherwise.
"""

import argparse
import difflib
import json
import math
import os
import signal
import struct
import subprocess
import sys
import time
import urllib.parse

from prometheus_client import (CollectorRegistry, Counter, Gauge, Histogram, Summary, delete_from_gateway,
                               push_to_gateway, pushadd_to_gateway)

from pulsecheck import (LABEL_PAIR, SAMPLE_LINE, Pulsegate, Report, WebSocket, free_port, http, metric_value, parse_metrics,
                        start_process, stop_process, tail, wait_for)

PUSHGATEWAY_OWN = ("go_", "process_", "pushgateway_", "promhttp_")
PULSEGATE_OWN = ("pulsegate_", "process_")
PUSHED, FAILED = "push_time_seconds", "push_failure_time_seconds"
GROUP1 = {"path": "a/b", "empty": ""}
G1 = {"empty": "", "instance": "", "job": "batch", "path": "a/b"}  # as /metrics labels them
OTHER = {"instance": "", "job": "other"}
CLOCK_SLACK = 0.002  # s: a gateway may keep its stamps in whole ms


def group_key(job, grouping_key=None):
    return frozenset({"job": job, **(grouping_key or {})}.items())


def samples_of(text):
    """[(name, {label: value}, value)] of the sample lines of a Prometheus text."""
    matches = (SAMPLE_LINE.match(line) for line in text.splitlines() if line and not line.startswith("#"))
    return [(m.group(1), dict(LABEL_PAIR.findall(m.group(2) or "")), float(m.group(3))) for m in matches if m]


class Gateway:
    """One gateway under test and what the check pushed to it: each group's stamps
    (the wall-clock window of its last push and failure, or None), families and TTL,
    which is what its /metrics and push-groups are judged against."""

    def __init__(self, name, base, own):
        self.name, self.base, self.own = name, base, own
        self.groups = {}  # group key -> {PUSHED: window, FAILED: window, "families": set, "ttl": s}
        self.answers = []

    def handler(self, extra=None):
        """A prometheus_client handler: the client's own URL, method, headers and body,
        sent with `extra` headers; the answer is kept, and an error raised as the
        client's default handler does."""
        def handler(url, method, timeout, headers, data):
            def send():
                answer = http(method, url, data, {**dict(headers), **(extra or {})}, timeout or 30)
                self.answers.append((method, url, data, answer))
                if answer.status >= 400:
                    raise OSError(f"{method} {url}: {answer.status} {answer.body[:200]!r}")
            return send
        return handler

    def push(self, job, grouping_key, send, method, headers=None, ttl=None):
        """Runs send(base, handler) and records its effect on the group as the Pushgateway
        has it: a refused push stamps the failure and leaves the families; PUT replaces
        them, POST adds to them. Returns (answer, data sent, wall-clock window)."""
        before, seen = time.time(), len(self.answers)
        try:
            send(self.base, self.handler(headers))
            ok = True
        except OSError:
            ok = False
        window = (before, time.time())
        _, _, data, answer = self.answers[-1] if len(self.answers) > seen else (None, None, b"", None)
        key = group_key(job, grouping_key)
        if ok and method == "DELETE":
            self.groups.pop(key, None)
            return answer, data, window
        group = self.groups.setdefault(key, {PUSHED: None, FAILED: None, "families": set(), "ttl": None})
        group[PUSHED if ok else FAILED] = window
        if ok:
            names = pushed_families(data)
            group["families"] = names | (group["families"] if method == "POST" else set())
            group["ttl"] = ttl
        return answer, data, window

    def families(self):
        """{name: {"help", "type", "samples"}} of its /metrics, stamps judged (their values
        replaced by the verdict, so that two right answers read alike), and the problems."""
        answer = http("GET", self.base + "/metrics")
        if answer.status != 200:
            raise RuntimeError(f"{self.name} /metrics: {answer.status}")
        found, current = {}, None
        for line in answer.body.decode().splitlines():
            if line.startswith(("# HELP ", "# TYPE ")):
                current = found.setdefault(line.split(" ", 3)[2], {"help": None, "type": None, "samples": []})
                current["help" if line[2] == "H" else "type"] = line
            elif line and not line.startswith("#"):
                if current is None:  # a sample before any header: a family of its own name
                    current = found.setdefault(SAMPLE_LINE.match(line).group(1), {"help": None, "type": None, "samples": []})
                current["samples"].append(line)
        problems = []
        for stamp in (PUSHED, FAILED):
            seen = set()
            for i, line in enumerate(found.get(stamp, {}).get("samples", [])):
                m = SAMPLE_LINE.match(line)
                labels = dict(LABEL_PAIR.findall(m.group(2) or ""))
                if labels.get("instance") == "":
                    del labels["instance"]
                key = frozenset(labels.items())
                seen.add(key)
                value, window = float(m.group(3)), self.groups.get(key, {}).get(stamp, "no such group")
                if window is None and value == 0:
                    verdict = "0"
                elif isinstance(window, tuple) and window[0] - CLOCK_SLACK <= value <= window[1] + CLOCK_SLACK:
                    verdict = "<within its push>"
                else:
                    expected = "0" if window is None else f"{window[0]:.3f}..{window[1]:.3f}" if isinstance(window, tuple) else window
                    verdict = f"{m.group(3)} <expected {expected}>"
                    problems.append(f"{self.name}: {line} (expected {expected})")
                found[stamp]["samples"][i] = line[:m.start(3)] + verdict
            problems += [f"{self.name}: no {stamp} for {dict(k)}" for k in set(self.groups) - seen]
        return found, problems


def render(families, names):
    lines = []
    for name in names:
        f = families.get(name)
        lines += [line for line in (f["help"], f["type"]) if line] + f["samples"] if f else [f"(no family {name})"]
    return lines


def compare(reference, other):
    """(ok, detail): the pushed families of both /metrics, byte for byte (a diff printed)."""
    ref, problems = reference.families()
    got, more = other.families()
    problems += more
    names = sorted(n for n in ref if not n.startswith(reference.own))
    extra = sorted(n for n in got if n not in names and not n.startswith(other.own))
    diff = list(difflib.unified_diff(render(ref, names), render(got, names + extra), reference.name, other.name, lineterm="", n=1))
    if diff:
        print("\n".join(["    " + line for line in diff[:120]]))
    for problem in problems:
        print(f"    {problem}")
    detail = f"{len(names)} families, {sum(len(ref[n]['samples']) for n in names)} sample lines"
    if diff:
        detail = f"{sum(1 for l in diff[2:] if l[:1] in '+-')} lines differ ({', '.join(extra) + ' only in ' + other.name + '; ' if extra else ''}diff above); {detail}"
    return not diff and not problems, "; ".join(problems[:3] + [detail])


def judge_groups(gw):
    """(ok, detail): GET /api/v1/push-groups against what was pushed to `gw`."""
    answer = http("GET", gw.base + "/api/v1/push-groups")
    if answer.status != 200:
        return False, f"{answer.status} {answer.body[:200]!r}"
    listed = {frozenset(g["labels"].items()): g for g in answer.json()["groups"]}
    problems = [f"{dict(k)} listed, never pushed" for k in set(listed) - set(gw.groups)]
    problems += [f"{dict(k)} missing" for k in set(gw.groups) - set(listed)]

    def in_window(ms, window, ttl=0):
        if window is None:
            return ms is None
        return isinstance(ms, int) and (window[0] + ttl) * 1000 - 1 <= ms <= (window[1] + ttl) * 1000 + 1
    for key in set(gw.groups) & set(listed):
        want, got = gw.groups[key], listed[key]
        expires = None if not want["ttl"] or not want[PUSHED] else want[PUSHED]
        for field, ok in (("last_push_ms", in_window(got.get("last_push_ms"), want[PUSHED])),
                          ("last_failure_ms", in_window(got.get("last_failure_ms"), want[FAILED])),
                          ("expires_at_ms", in_window(got.get("expires_at_ms"), expires, want["ttl"] or 0)),
                          ("families", set(got.get("families", [])) - {PUSHED, FAILED} == want["families"])):
            if not ok:
                problems.append(f"{dict(key)} {field} {got.get(field)}")
    return not problems, "; ".join(problems) or f"{len(listed)} groups, stamps, expiry and families as pushed"


def expect(gateways, wanted):
    """(ok, detail): each (name, labels, value) is in every gateway's /metrics (None: absent)."""
    problems = []
    for gw in gateways:
        values = parse_metrics(http("GET", gw.base + "/metrics").body.decode())
        problems += [f"{gw.name}: {name}{labels} {metric_value(values, name, **labels)}, expected {value}"
                     for name, labels, value in wanted if metric_value(values, name, **labels) != value]
    return not problems, "; ".join(problems) or ", ".join(f"{n}{'' if v is not None else ' gone'}" for n, _, v in wanted)


def history(server, name, window, **matchers):
    """{labels: [(ts_ms, value)]} of /history, raw, for ts within `window` (s)."""
    low, high = math.floor(window[0] * 1000), math.ceil(window[1] * 1000)
    query = {"metric": name, "from": str(low - 1000), "to": str(high + 1000), **matchers}
    answer = server.get("/history?" + urllib.parse.urlencode(query), timeout=30)
    if answer.status != 200:
        raise RuntimeError(f"/history {name}: {answer.status} {answer.body[:200]!r}")
    return {frozenset(s["labels"].items()): [(t, v) for t, v in s["points"] if low <= t <= high]
            for s in answer.json()["series"]}


def missing_from_history(server, samples, window, group):
    """Those of the pushed samples (name, labels, value) not in /history within the push's
    window: with the grouping labels, empty labels (instance="" too) left out, NaN skipped."""
    missing, by_name = [], {}
    for name, labels, value in samples:
        if not math.isnan(value):
            by_name.setdefault(name, []).append(({k: v for k, v in {**group, **labels}.items() if v}, value))
    for name, wanted in by_name.items():
        stored = history(server, name, window, **{k: v for k, v in group.items() if v})
        missing += [f"{name}{labels}={value}" for labels, value in wanted
                    if value not in [v for _, v in stored.get(frozenset(labels.items()), [])]]
    return missing


def settled(problems, timeout):
    """problems() again until it is empty (the store commits every second) or time is up: its last answer."""
    deadline = time.monotonic() + timeout
    while True:
        found = problems()
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def registries():
    """The registries of steps 1 to 4, made up front so that each goes to both gateways alike."""
    r1 = CollectorRegistry()
    Gauge("batch_last_success", "Last time the batch job succeeded.", registry=r1).set(1796526417.9704123)
    records = Counter("batch_records", "Records processed.", ["kind"], registry=r1)
    records.labels("ok").inc(1e6)
    records.labels("bad").inc(3)
    duration = Summary("batch_duration_seconds", "Time spent in the batch.", registry=r1)
    duration.observe(0.25)
    duration.observe(1.5)
    sizes = Histogram("batch_size_bytes", "Sizes of the batches.", buckets=(100, 1e4, 1e6), registry=r1)
    sizes.observe(50)
    sizes.observe(2e5)
    r2 = CollectorRegistry()
    Gauge("batch_last_success", "Last time the batch job succeeded.", registry=r2).set(1234.5)
    Gauge("other_items", "Items seen by the other job.", ["queue"], registry=r2).labels("q1").set(7)
    r3 = CollectorRegistry()
    Gauge("batch_last_success", "Last time the batch job succeeded.", registry=r3).set(1796526500.25)
    r4 = CollectorRegistry()
    Gauge("other_items", "Items seen by the other job.", ["queue"], registry=r4).labels("q1").set(8)
    return r1, r2, r3, r4


def gauge_registry(name, value, labels=None):
    registry = CollectorRegistry()
    gauge = Gauge(name, f"{name}, pushed by the check.", list(labels or {}), registry=registry)
    (gauge.labels(**labels) if labels else gauge).set(value)
    return registry


def varint(value):
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    return bytes(out + bytes([value]))


def field(number, payload):
    """A length-delimited field (a string or a message)."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def double(number, value):
    return varint(number << 3 | 1) + struct.pack("<d", value)


def metric_family(name, help_text, type_number, metrics):
    """One client_model MetricFamily, length-delimited, as client_golang pushes it; each
    metric is (labels, value field number, value message bytes)."""
    body = field(1, name.encode()) + field(2, help_text.encode()) + varint(3 << 3) + varint(type_number)
    for labels, number, value in metrics:
        pairs = b"".join(field(1, field(1, k.encode()) + field(2, v.encode())) for k, v in labels.items())
        body += field(4, pairs + field(number, value))
    return varint(len(body)) + body


def protobuf_push():
    """client_golang's protobuf delimited format (its default for pushes): a gauge, a labelled
    counter and a histogram without its +Inf bucket, which both gateways must read alike."""
    histogram = varint(1 << 3) + varint(3) + double(2, 7.5)  # sample_count, sample_sum
    for bound, cumulative in ((0.5, 1), (2, 2)):
        histogram += field(3, varint(1 << 3) + varint(cumulative) + double(2, bound))
    return (metric_family("etl_job_last_success", "When the Go job last succeeded.", 1, [({}, 2, double(1, 1796526417.5))])
            + metric_family("etl_job_items_total", "Items handled.", 0, [({"kind": "a"}, 3, double(1, 12)), ({"kind": "b"}, 3, double(1, 1e7))])
            + metric_family("etl_job_seconds", "Time per item.", 4, [({"step": "copy"}, 7, histogram)]))


def pushed_families(data):
    """The families a push's body names."""
    if data == protobuf_push():
        return {"etl_job_last_success", "etl_job_items_total", "etl_job_seconds"}
    return {line.split()[2] for line in data.decode().splitlines() if line.startswith("# TYPE ")}


PROTOBUF = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
GO = {"instance": "h1", "job": "go"}


def steps(report, reference, other):
    """Steps 1-7 against both gateways. For step 8: the window of the first push to `other`
    (pulsegate), and the samples the Pushgateway then held for it, labelled as it labels them
    (the client sends le="100.0", both gateways hold le="100")."""
    r1, r2, r3, r4 = registries()
    raw = lambda base, handler: handler(f"{base}/metrics/job/other", "POST", 10, [("Content-Type", "text/plain; version=0.0.4")],
                                        b"x_metric 1 1700000000000\n")()
    protobuf = lambda base, handler: handler(f"{base}/metrics/job/go/instance/h1", "PUT", 10, [("Content-Type", PROTOBUF)], protobuf_push())()
    plan = [  # (title, job, grouping key, method, send, status, expected in both /metrics)
        ("push_to_gateway of four families to job batch, path a/b, empty ''", "batch", GROUP1, "PUT",
         lambda b, h: push_to_gateway(b, "batch", r1, grouping_key=GROUP1, handler=h), 200,
         [("batch_records_total", {**G1, "kind": "ok"}, 1e6), ("batch_size_bytes_bucket", {**G1, "le": "1e+06"}, 2)]),
        ("pushadd_to_gateway to job other, sharing a gauge with batch", "other", None, "POST",
         lambda b, h: pushadd_to_gateway(b, "other", r2, handler=h), 200,
         [("batch_last_success", OTHER, 1234.5), ("batch_last_success", G1, 1796526417.9704123), ("other_items", {**OTHER, "queue": "q1"}, 7)]),
        ("pushadd_to_gateway of one family to the batch group: the others stay", "batch", GROUP1, "POST",
         lambda b, h: pushadd_to_gateway(b, "batch", r3, grouping_key=GROUP1, handler=h), 200,
         [("batch_last_success", G1, 1796526500.25), ("batch_records_total", {**G1, "kind": "ok"}, 1e6)]),
        ("push_to_gateway of one family to job other: the others go", "other", None, "PUT",
         lambda b, h: push_to_gateway(b, "other", r4, handler=h), 200,
         [("batch_last_success", OTHER, None), ("other_items", {**OTHER, "queue": "q1"}, 8)]),
        ("client_golang's protobuf delimited format to job go, instance h1", "go", {"instance": "h1"}, "PUT", protobuf, 200,
         [("etl_job_items_total", {**GO, "kind": "b"}, 1e7), ("etl_job_seconds_bucket", {**GO, "step": "copy", "le": "+Inf"}, 3)]),
        ("a push with a timestamp: refused, the failure stamped, the group kept", "other", None, "POST", raw, 400,
         [("other_items", {**OTHER, "queue": "q1"}, 8), ("x_metric", OTHER, None)]),
        ("delete_from_gateway of the batch group", "batch", GROUP1, "DELETE",
         lambda b, h: delete_from_gateway(b, "batch", grouping_key=GROUP1, handler=h), 202,
         [("batch_records_total", {**G1, "kind": "ok"}, None), ("other_items", {**OTHER, "queue": "q1"}, 8)]),
    ]
    for number, (title, job, grouping_key, method, send, status, wanted) in enumerate(plan, 1):
        report.heading(f"step {number}", f"step {number}: {title}")
        results = [gw.push(job, grouping_key, send, method) for gw in (reference, other)]
        if number == 1:
            held = [(n, labels, v) for n, labels, v in samples_of(http("GET", reference.base + "/metrics").body.decode())
                    if labels.get("job") == "batch" and n not in (PUSHED, FAILED)]
            first = (results[1][2], held)
        answers = [(gw.name, answer.status if answer else "no answer") for gw, (answer, _, _) in zip((reference, other), results)]
        ok = all(code == status for _, code in answers)
        answer, data = results[1][0], results[1][1]
        if answer is not None and status != 202:
            try:  # pulsegate's answers are JSON: {"accepted": the samples pushed} or {"error": why}
                body = json.loads(answer.body)
                # Samples stored: the text's lines; the protobuf push's 1 + 2 + 5 (its histogram's two buckets, +Inf, _sum, _count).
                pushed = 8 if data == protobuf_push() else len(samples_of(data.decode()))
                ok = ok and (body["accepted"] == pushed if status == 200 else isinstance(body["error"], str))
                answers.append(("pulsegate said", answer.body.decode()[:120]))
            except (ValueError, KeyError, TypeError):
                ok, answers = False, answers + [("pulsegate's body is not as expected", answer.body[:120])]
        report.check(f"both answer {status}", ok, ", ".join(f"{n}: {c}" for n, c in answers))
        if number == 1:
            url = reference.answers[-1][1]
            report.check("the client sent the grouping key @base64", url.endswith("/metrics/job/batch/empty@base64/=/path@base64/YS9i"), url)
        report.run("the Pushgateway's semantics, in both")(lambda: expect((reference, other), wanted))
        report.run("/metrics: the pushed families alike, byte for byte")(lambda: compare(reference, other))
        report.run("GET /api/v1/push-groups as pushed")(lambda: judge_groups(other))
    return first


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".build/debug/pulsegate"))
    parser.add_argument("--scratch", required=True, help="an empty directory of the check's own (the wrapper makes it)")
    parser.add_argument("--pushgateway", default="prometheus-pushgateway")
    args = parser.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    report = Report("pushgateway-check")
    pids = os.path.join(args.scratch, "pids")
    pushgateway = ttl_server = None
    server = Pulsegate(args.binary, os.path.join(args.scratch, "pulsegate"), "--collect-interval", "0", pids_file=pids)
    pg_log = os.path.join(args.scratch, "pushgateway.log")
    try:
        report.heading("start", f"pulsegate: {args.binary}")
        version = subprocess.run([args.pushgateway, "--version"], capture_output=True, text=True)
        print((version.stdout or version.stderr).splitlines()[0])
        pg_port = free_port()
        # Debian's build persists to /var/lib/prometheus by default (state shared with any other
        # Pushgateway there): an empty file keeps it in memory. The empty web config is there to
        # put the scratch directory in its arguments, by which prometheus-check's trap finds it.
        web_config = os.path.join(args.scratch, "pushgateway-web.yml")
        with open(web_config, "w") as f:
            f.write("# no TLS, no basic auth\n")
        pushgateway = start_process([args.pushgateway, f"--web.listen-address=127.0.0.1:{pg_port}", "--persistence.file=",
                                     f"--web.config.file={web_config}", "--log.level=warn"], pg_log, pids)
        reference = Gateway("pushgateway", f"http://127.0.0.1:{pg_port}", PUSHGATEWAY_OWN)
        ready = wait_for(lambda: http("GET", reference.base + "/-/ready").status == 200, 30, interval=0.1)
        report.check("the Pushgateway started", ready, f"{reference.base}, pid {pushgateway.pid}" if ready else tail(pg_log))
        if not ready or not report.started(server):
            return report.finish()
        other = Gateway("pulsegate", server.base, PULSEGATE_OWN)

        window, held = steps(report, reference, other)

        report.heading("history", "step 8: every sample of the first push is in pulsegate's /history")

        @report.run("in /history: the pushed values, the group's labels less the empty ones, the push's time")
        def stored():
            missing = settled(lambda: missing_from_history(server, held, window, {"job": "batch", **GROUP1}), 15)
            return bool(held) and not missing, f"missing {missing[:6]}" if missing else f"{len(held)} samples, each found" if held else "the Pushgateway held none"

        report.heading("live", "step 9: a live client sees a push arrive")

        @report.run("the pushed samples arrive on /ws/metrics")
        def live():
            ws = WebSocket.connect(server.port, path="/ws/metrics?metric=live_*")
            registry = gauge_registry("live_gauge", 42.5, {"stage": "load"})
            answer, data, window = other.push("live", None, lambda b, h: push_to_gateway(b, "live", registry, handler=h), "PUT")
            if answer is None or answer.status != 200:
                ws.close(1000)
                return False, f"the push was answered {answer.status if answer else 'not at all'}"
            wanted = {(n, frozenset({**labels, "job": "live"}.items()), v) for n, labels, v in samples_of(data.decode())}
            deadline, seen = time.monotonic() + 30, set()
            while wanted - seen and time.monotonic() < deadline:
                opcode, payload = ws.recv(timeout=1)
                frame = json.loads(payload) if opcode == 0x1 else {}
                seen |= {(s["metric"], frozenset(s["labels"].items()), s["value"]) for s in frame.get("samples", [])
                         if window[0] * 1000 - 1 <= s["ts"] <= window[1] * 1000 + 1}
            ws.close(1000)
            return not wanted - seen, f"{len(wanted & seen)} of {len(wanted)} samples" + (f"; not seen {wanted - seen}" if wanted - seen else "")
        server.stop()

        report.heading("ttl", "step 10: a pulsegate with --push-group-ttl 3s")
        ttl_server = Pulsegate(args.binary, os.path.join(args.scratch, "pulsegate-ttl"), "--collect-interval", "0",
                               "--push-group-ttl", "3s", pids_file=pids)
        if report.started(ttl_server):
            expire(report, ttl_server)
    finally:
        stop_process(pushgateway)
        server.stop()
        if ttl_server:
            ttl_server.stop()
        if report.failed:
            print(f"\npushgateway log:\n{tail(pg_log)}\npulsegate log:\n{server.log_tail()}")
            if ttl_server:
                print(f"pulsegate --push-group-ttl log:\n{ttl_server.log_tail()}")
    return report.finish()


def expire(report, server):
    """Step 9: three groups, of the default TTL (3 s), of none (header 0) and of 1 s."""
    gw = Gateway("pulsegate", server.base, PULSEGATE_OWN)
    plan = {"ttl_default": (None, 3), "ttl_never": ("0", None), "ttl_short": ("1s", 1)}
    windows, data = {}, {}
    for job, (header, ttl) in plan.items():
        registry = gauge_registry("ttl_gauge", len(job))
        answer, data[job], windows[job] = gw.push(job, None, lambda b, h: push_to_gateway(b, job, registry, handler=h), "PUT",
                                                  headers={"Pulsegate-Group-TTL": header} if header else None, ttl=ttl)
        if answer is None or answer.status != 200:
            return report.check(f"push to {job} accepted", False, f"{answer.status if answer else 'no answer'}")

    def present():
        return {labels.get("job") for name, labels, _ in samples_of(server.get("/metrics").body.decode()) if name == "ttl_gauge"}
    report.check("the three groups are in /metrics", present() == set(plan), f"{sorted(present())}")
    report.run("GET /api/v1/push-groups: expiry at push + TTL, none for TTL 0")(lambda: judge_groups(gw))
    # Polled until the two that expire are gone: when each went is bounded by the polls
    # around it, which must not end before its TTL nor start long after it.
    gone, deadline = {}, time.time() + 15
    while not {"ttl_short", "ttl_default"} <= set(gone) and time.time() < deadline:
        start = time.time()
        held = present()
        gone.update({job: (start, time.time()) for job in plan if job not in held and job not in gone})
        time.sleep(0.1)
    for job in ("ttl_short", "ttl_default"):
        ttl, (low, high) = plan[job][1], windows[job]
        when = gone.get(job)
        ok = when is not None and when[1] >= low + ttl - CLOCK_SLACK and when[0] <= high + ttl + 5
        report.check(f"{job} ({ttl} s) gone from /metrics after its TTL, not before", ok,
                     f"first missing from the poll of {when[0] - low:.2f}..{when[1] - low:.2f} s after its push" if when else "still there after 15 s")
        if job in gone:
            gw.groups.pop(group_key(job), None)
    report.check("the short TTL went sooner than the default", "ttl_short" in gone and gone["ttl_short"][1] < gone.get("ttl_default", (math.inf,) * 2)[0],
                 f"{({j: round(w[1] - windows[j][0], 2) for j, w in gone.items()})}")
    time.sleep(1)
    report.check("the group pushed with Pulsegate-Group-TTL: 0 is still there", "ttl_never" in present(), f"{time.time() - windows['ttl_never'][0]:.1f} s after its push")
    report.run("GET /api/v1/push-groups: only the one that never expires")(lambda: judge_groups(gw))
    values = server.metrics()
    expired, held = metric_value(values, "pulsegate_push_groups_expired_total"), metric_value(values, "pulsegate_push_groups")
    report.check("pulsegate_push_groups_expired_total counted them, pulsegate_push_groups holds one", expired == 2 and held == 1,
                 f"expired_total {expired}, push_groups {held}")
    missing = {job: settled(lambda: missing_from_history(server, samples_of(data[job].decode()), windows[job], {"job": job}), 5) for job in ("ttl_default", "ttl_short")}
    report.check("their samples are still in /history", not any(missing.values()),
                 f"missing {missing}" if any(missing.values()) else "every sample of both, at its push's time")


if __name__ == "__main__":
    sys.exit(main())
