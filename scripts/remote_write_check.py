#!/usr/bin/env python3
"""Checks POST /api/v1/write against real senders: Debian's Prometheus and vmagent.

Run through scripts/prometheus-check, which installs both (prometheus, victoria-metrics),
makes the scratch directory and removes it (and anything this left running) afterwards.

1. Prometheus scrapes itself every second and remote-writes to a started pulsegate.
   Every series it holds for that job is then in pulsegate's /history with the same
   samples: its own answer (a range selector, raw samples) against /history's, value by
   value, series by series, over a window of the past. NaN samples (a summary with no
   observations) are skipped by pulsegate and counted; series named as pulsegate's own
   (process_*) are skipped and counted; both are checked against the counters.
2. A live client on /ws/metrics sees the written samples arrive.
3. pulsegate is stopped for a while and started again: Prometheus retries, and nothing
   it held over the outage is missing afterwards.
4. vmagent scrapes the same Prometheus and remote-writes to pulsegate: its series arrive
   (with the label it adds), with the values Prometheus itself reports for them, and
   vmagent saw no request refused.

Python 3 standard library only (and scripts/pulsecheck.py). Ends with a table of every
check and `N passed, M failed`; exits 0 when everything passed, 1 otherwise.
"""

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import time
import urllib.parse

from pulsecheck import Prometheus, Pulsegate, Report, WebSocket, free_port, http, parse_metrics, start_process, stop_process, tail, wait_for

JOB = "prometheus_self"
VM_JOB = "vmagent_target"


def history(server, name, start, end, **matchers):
    """{labels: [(ts_ms, value)]} of /history, raw, for ts in (start, end) (seconds)."""
    query = {"metric": name, "from": str(int(start * 1000)), "to": str(int(end * 1000)), **matchers}
    answer = server.get("/history?" + urllib.parse.urlencode(query), timeout=30)
    if answer.status != 200:
        raise RuntimeError(f"/history {name}: {answer.status} {answer.body[:200]!r}")
    found = {}
    for series in answer.json()["series"]:
        points = [(t, v) for t, v in series["points"] if start * 1000 < t < end * 1000]
        found[tuple(sorted(series["labels"].items()))] = points
    return found


def compare(prom, server, job, start, end, reserved):
    """(ok, detail, nan samples seen): every finite sample Prometheus holds for `job`
    in (start, end) is in /history and nothing else is, series by series."""
    expected = prom.raw(f'{{job="{job}"}}', start, end)
    by_name = {}
    for (name, labels), points in expected.items():
        by_name.setdefault(name, {})[labels] = points
    problems, samples, series_count, nans = [], 0, 0, 0
    for name, series in sorted(by_name.items()):
        if name in reserved:
            continue
        stored = history(server, name, start, end, job=job)
        for labels, points in series.items():
            finite = [(t, v) for t, v in points if not math.isnan(v)]
            nans += len(points) - len(finite)
            have = stored.pop(labels, [])
            series_count += 1
            samples += len(finite)
            if have != finite:
                missing = sorted(set(finite) - set(have))
                extra = sorted(set(have) - set(finite))
                problems.append(f"{name}{dict(labels)}: {len(missing)} missing {missing[:3]}, {len(extra)} not in Prometheus {extra[:3]}")
        for labels, points in stored.items():
            if points:
                problems.append(f"{name}{dict(labels)}: in /history, not in Prometheus ({len(points)} samples)")
    detail = f"{series_count} series, {samples} samples over {end - start:.0f} s compared value by value"
    if problems:
        detail = f"{len(problems)} series differ: " + "; ".join(problems[:5]) + f" ({detail})"
    return not problems and samples > 0, detail, nans


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".build/debug/pulsegate"))
    parser.add_argument("--scratch", required=True, help="an empty directory of the check's own (the wrapper makes it)")
    parser.add_argument("--prometheus", default="prometheus")
    parser.add_argument("--vmagent", default="vmagent")
    parser.add_argument("--outage", type=float, default=8, help="seconds pulsegate is stopped (default 8)")
    args = parser.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    report = Report("remote-write-check")
    pids = os.path.join(args.scratch, "pids")
    prometheus = vmagent = None
    server = Pulsegate(args.binary, os.path.join(args.scratch, "pulsegate"), "--collect-interval", "0", pids_file=pids)
    prom_log = os.path.join(args.scratch, "prometheus.log")
    vm_log = os.path.join(args.scratch, "vmagent.log")
    try:
        report.heading("start", f"pulsegate: {args.binary}")
        if not report.started(server):
            return report.finish()
        own = server.get("/metrics").body.decode()
        reserved = {line.split()[2] for line in own.splitlines() if line.startswith("# TYPE ")}
        reserved = {name for name in reserved if name.startswith(("pulsegate_", "process_"))}

        report.heading("prometheus", "Prometheus scraping itself, remote-writing to pulsegate")
        prom_port = free_port()
        config = os.path.join(args.scratch, "prometheus.yml")
        with open(config, "w") as f:
            f.write(f"""global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: {JOB}
    static_configs:
      - targets: ['127.0.0.1:{prom_port}']
remote_write:
  - url: {server.base}/api/v1/write
    queue_config:
      batch_send_deadline: 1s
      min_backoff: 100ms
      max_backoff: 1s
    metadata_config:
      send: true
      send_interval: 2s
""")
        version = subprocess.run([args.prometheus, "--version"], capture_output=True, text=True)
        print((version.stdout or version.stderr).splitlines()[0])
        prometheus = start_process([
            args.prometheus, f"--config.file={config}", f"--storage.tsdb.path={os.path.join(args.scratch, 'tsdb')}",
            f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"], prom_log, pids)
        prom = Prometheus(f"http://127.0.0.1:{prom_port}")
        started = time.time()

        # A live client subscribed to `up` before the first remote write lands.
        ws = WebSocket.connect(server.port, path="/ws/metrics?metric=up")

        def live_up():
            while True:
                opcode, payload = ws.recv(timeout=1)
                if opcode != 0x1:
                    continue
                frame = json.loads(payload)
                for sample in frame.get("samples", []):
                    if sample["metric"] == "up" and sample["labels"].get("job") == JOB:
                        return sample
        arrived = wait_for(live_up, 60, interval=0)
        ws.close(1000)
        report.check("a live client sees remote-written samples arrive", arrived is not None and arrived["value"] == 1,
                     f"up{arrived['labels']} = {arrived['value']} at ts {arrived['ts']}" if arrived else "no up sample within 60 s")
        ready = wait_for(lambda: http("GET", f"{server.base}/history?metric=up&job={JOB}&from=-1m").json()["series"], 60)
        report.check("remote-written series are in /history", bool(ready), f"{len(ready or [])} up series")

        # Let a window of the past fill, then compare it, sample by sample.
        time.sleep(max(0, started + 20 - time.time()))
        end = time.time() - 4  # what Prometheus has sent by now (batch_send_deadline 1 s), with slack
        ok, detail, nans = compare(prom, server, JOB, end - 12, end, reserved)
        report.check("every sample Prometheus holds for the job is in /history, the same values", ok, detail)
        counters = server.metrics()
        skipped_nan = counters.get(("pulsegate_remote_write_samples_skipped_total", (("reason", "nan"),)), 0)
        report.check("NaN samples are skipped and counted", skipped_nan >= nans, f"{nans} NaN samples in the window, {skipped_nan:.0f} counted")
        held = prom.raw(f'{{job="{JOB}",__name__=~"process_.*"}}', end - 12, end)
        skipped_reserved = counters.get(("pulsegate_remote_write_samples_skipped_total", (("reason", "reserved_name"),)), 0)
        report.check("process_* series are skipped and counted, the rest stored", skipped_reserved >= sum(len(p) for p in held.values()) > 0,
                     f"{sum(len(p) for p in held.values())} process_* samples in the window, {skipped_reserved:.0f} counted")
        typed = server.get("/metrics").body.decode()
        report.check("metadata types the families at /metrics",
                     "# TYPE prometheus_http_requests_total counter" in typed and "# TYPE prometheus_http_request_duration_seconds histogram" in typed,
                     "prometheus_http_requests_total counter, prometheus_http_request_duration_seconds histogram")
        refused = [k for k, v in counters.items() if k[0] == "pulsegate_remote_write_requests_rejected_total" and v > 0]
        report.check("no request from Prometheus was refused", not refused, f"{refused or 'none'}; accepted "
                     f"{counters.get(('pulsegate_remote_write_requests_accepted_total', ()), 0):.0f}")

        report.heading("outage", f"pulsegate stopped for {args.outage:.0f} s and started again")
        down = time.time()
        report.check("pulsegate stopped on SIGTERM", server.stop() == 0, "exit status 0")
        time.sleep(args.outage)
        server.start()
        up = time.time()
        report.check("pulsegate started again on its database", server.running(), f"after {up - down:.1f} s")
        # Prometheus retries with backoff (at most 1 s here), then catches up.
        time.sleep(12)
        end = time.time() - 4
        ok, detail, _ = compare(prom, server, JOB, down - 6, end, reserved)
        report.check("nothing Prometheus held over the outage is missing", ok, detail)

        report.heading("vmagent", "vmagent scraping the same Prometheus, remote-writing to pulsegate")
        scrape = os.path.join(args.scratch, "vmagent-scrape.yml")
        with open(scrape, "w") as f:
            f.write(f"""global:
  scrape_interval: 1s
scrape_configs:
  - job_name: {VM_JOB}
    static_configs:
      - targets: ['127.0.0.1:{prom_port}']
""")
        vm_port = free_port()
        version = subprocess.run([args.vmagent, "-version"], capture_output=True, text=True)
        print(next((line for line in (version.stdout + version.stderr).splitlines() if line.strip()), "vmagent (no version)"))
        vmagent = start_process([
            args.vmagent, f"-promscrape.config={scrape}", f"-remoteWrite.url={server.base}/api/v1/write",
            "-remoteWrite.label=sender=vmagent", f"-remoteWrite.tmpDataPath={os.path.join(args.scratch, 'vmagent-data')}",
            "-remoteWrite.flushInterval=1s", f"-httpListenAddr=127.0.0.1:{vm_port}", "-loggerLevel=WARN"], vm_log, pids)
        build = wait_for(lambda: history(server, "prometheus_build_info", time.time() - 60, time.time() + 1, job=VM_JOB, sender="vmagent"), 60)
        values = {v for points in (build or {}).values() for _, v in points}
        report.check("vmagent's samples arrive, with the label it adds", bool(build) and values == {1.0},
                     f"prometheus_build_info{{job={VM_JOB},sender=vmagent}}: {len(build or {})} series, values {sorted(values)}")
        time.sleep(5)
        # The same target as Prometheus's own job: every name with a finite sample there
        # (a summary with no observations has only NaN, which is not stored) is stored
        # from vmagent too. vmagent scrapes and flushes every second: 4 s after the window
        # it has sent what Prometheus scraped in it.
        end = time.time() - 4
        names = {name for (name, _), points in prom.raw(f'{{job="{JOB}"}}', end - 5, end).items()
                 if name not in reserved and any(not math.isnan(v) for _, v in points)}
        time.sleep(4)
        stored = {name for name in names if any(history(server, name, end - 10, time.time(), job=VM_JOB, sender="vmagent").values())}
        report.check("every series name of the target reached pulsegate through vmagent", stored == names,
                     f"{len(stored)} of {len(names)} names" + (f"; missing {sorted(names - stored)[:5]}" if names - stored else ""))
        vm_metrics = parse_metrics(http("GET", f"http://127.0.0.1:{vm_port}/metrics").body.decode())
        answered = [(dict(labels).get("status_code", ""), v) for (name, labels), v in vm_metrics.items() if name == "vmagent_remotewrite_requests_total"]
        sent = sum(v for code, v in answered if code.startswith("2"))
        failed = sum(v for code, v in answered if not code.startswith("2"))
        report.check("vmagent saw every request accepted", sent > 0 and failed == 0, f"{sent:.0f} requests answered 2xx, {failed:.0f} others")
    finally:
        stop_process(vmagent)
        stop_process(prometheus)
        server.stop()
        if report.failed:
            print(f"\nprometheus log:\n{tail(prom_log)}\nvmagent log:\n{tail(vm_log)}\npulsegate log:\n{server.log_tail()}")
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
