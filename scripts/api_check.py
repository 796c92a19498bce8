#!/usr/bin/env python3
"""Checks the server against its own OpenAPI document with schemathesis.

Run through scripts/api-check, which installs schemathesis. Starts pulsegate (--binary) on
a scratch database, seeds a few samples, and has schemathesis generate requests for every
operation of GET /openapi.json: any 5xx, and any status, content type, header or body the
document does not allow, fails. Arguments after `--` go to `schemathesis run`.
Python 3 standard library only (with scripts/pulsecheck.py). Ends with a table of the checks
and `N passed, M failed`; exits 0 when everything passed, 1 otherwise.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from pulsecheck import DEFAULT_BINARY, Pulsegate, Report, http, judge_uptime


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default=DEFAULT_BINARY)
    parser.add_argument("schemathesis_args", nargs="*", help="passed on to schemathesis run")
    args, extra = parser.parse_known_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    report = Report("api-check")
    with tempfile.TemporaryDirectory(prefix="api-check.") as scratch:
        server = Pulsegate(args.binary, scratch, "--collect-interval", "0")
        try:
            report.heading("pulsegate")
            if not report.started(server):
                return report.finish()

            # Samples in the last hour for the metric and labels of the document's examples,
            # so that the examples read real points; and values near the largest double,
            # whose sums overflow.
            report.heading("seed")
            now = int(time.time()) * 1000
            samples = []
            for i in range(10):
                ts = now - 600000 + i * 1000
                samples += [{"metric": "host_cpu_usage_ratio", "labels": {"cpu": "all"}, "ts": ts, "value": i / 10},
                            {"metric": "host_cpu_usage_ratio", "labels": {"cpu": "0"}, "ts": ts, "value": 1.7e308},
                            {"metric": "host_cpu_usage_ratio", "labels": {"cpu": "1"}, "ts": ts, "value": -1.7e308}]
            answer = http("POST", server.base + "/ingest", json.dumps({"samples": samples}).encode(),
                          {"Content-Type": "application/json"})
            report.check("POST /ingest (JSON) of the examples' samples", answer.status == 200 and answer.json() == {"accepted": 30},
                         f"{answer.status} {answer.body[:100].decode(errors='replace')}")
            answer = http("POST", server.base + "/ingest", f'jobs_queued{{queue="sms"}} 3 {now}\n'.encode(),
                          {"Content-Type": "text/plain; version=0.0.4"})
            report.check("POST /ingest (text)", answer.status == 200 and answer.json() == {"accepted": 1},
                         f"{answer.status} {answer.body[:100].decode(errors='replace')}")

            # Every check but positive_data_acceptance, which expects a 2xx for every request
            # the document allows. The document cannot say how parameters bound each other
            # (from after to, a range or a number of buckets too large, agg without step, a
            # series limit reached) nor that a gzip body must be gzip, and the server rightly
            # answers those with a 400.
            # A fixed seed, no example database, and run in the scratch directory so that the
            # crash cache schemathesis keeps (.schemathesis/) goes with it: the same requests
            # every run. 500 examples per operation take under a minute on two cores.
            # too_slow judges how fast hypothesis generates data, not the API: off, so that a
            # busy machine does not fail the run.
            report.heading("schemathesis")
            command = [sys.executable, "-c",
                       "import sys; from schemathesis.cli import schemathesis; sys.argv[0] = 'schemathesis'; schemathesis()",
                       "run", f"{server.base}/openapi.json",
                       "--checks", "all", "--exclude-checks", "positive_data_acceptance",
                       "--max-examples", "500", "--seed", "20261130", "--generation-database", "none",
                       "--suppress-health-check", "too_slow", "--request-timeout", "10",
                       "--no-color", *args.schemathesis_args, *extra]
            # Bodies for the media types schemathesis cannot draw itself (remote_write's protobuf).
            hooks_env = dict(os.environ, SCHEMATHESIS_HOOKS="api_check_hooks",
                             PYTHONPATH=os.pathsep.join(filter(None, [os.path.dirname(os.path.abspath(__file__)), os.environ.get("PYTHONPATH")])))
            run = subprocess.run(command, cwd=scratch, env=hooks_env)
            report.check("schemathesis run: every operation of /openapi.json", run.returncode == 0, f"exit status {run.returncode}")

            report.heading("end")
            asked = time.monotonic()
            health = server.get("/healthz")
            report.check("/healthz uptime_seconds: the time since pulsegate was started",
                         *judge_uptime(server, health.json().get("uptime_seconds"), asked, time.monotonic()))
            running = server.running()
            code = server.stop()
            report.check("pulsegate ran throughout and stopped cleanly on SIGTERM", running and code == 0,
                         f"exit status {code}" + ("" if running else f" (had exited: {server.log_tail()})"))
        finally:
            server.stop()
            if report.failed:
                print(f"\npulsegate's log:\n{server.log_tail(60)}")
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
