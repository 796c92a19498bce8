#!/usr/bin/env python3
"""Records the host collector's samples at 1 s into an OpenMetrics fixture for issue 17's
storage benchmark (bytes per sample on real data, beside a Prometheus TSDB block of the
same samples: `promtool tsdb create-blocks-from openmetrics` reads the same file).

    python3 scripts/record_host_fixture.py --minutes 60 --out FILE.om.gz [--binary PATH]
    python3 scripts/record_host_fixture.py --from-db DB --out FILE.om.gz   # export a schema-2 file (rows only)

Starts pulsegate (a release build by default) on a scratch database with the collector at
1 s and nothing else, waits, reads every stored sample back through `/api/series` and
`/history` (the file keeps them in compressed chunks), stops it, and writes them: families in name
order, each series' samples in time order, timestamps in seconds with their milliseconds,
values in Python's shortest repr (which reads back to the same bits), `# EOF` last;
gzip-compressed. Python 3 standard library only.
"""

import argparse
import gzip
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request


def escape(value):
    return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def export(db, out):
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    # From schema 3 on, samples sit in compressed chunks that only Pulsegate reads:
    # record such a database's samples with --minutes from a running collector instead.
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version > 2:
        sys.exit(f"{db} has schema {version}: its samples are in compressed chunks; --from-db reads a schema-2 file (rows only)")
    series = connection.execute("SELECT id, metric, labels FROM series ORDER BY metric, labels").fetchall()
    count = 0
    with gzip.open(out, "wt", compresslevel=9) as f:
        family = None
        for series_id, metric, labels in series:
            if metric != family:
                f.write(f"# TYPE {metric} unknown\n")
                family = metric
            pairs = json.loads(labels)
            text = "{" + ",".join(f'{k}="{escape(v)}"' for k, v in sorted(pairs.items())) + "}" if pairs else ""
            for ts, value in connection.execute("SELECT ts, value FROM samples WHERE series_id = ? ORDER BY ts", (series_id,)):
                f.write(f"{metric}{text} {value!r} {ts // 1000}.{ts % 1000:03d}\n")
                count += 1
        f.write("# EOF\n")
    return len(series), count


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--binary", default=".build-release/release/pulsegate")
    parser.add_argument("--from-db", help="export this database instead of recording")
    args = parser.parse_args()
    if args.from_db:
        series, samples = export(args.from_db, args.out)
    else:
        scratch = tempfile.mkdtemp(prefix="pulsegate-fixture-")
        port = free_port()
        server = subprocess.Popen([args.binary, "--port", str(port), "--db", os.path.join(scratch, "host.sqlite"),
                                   "--collect-interval", "1s", "--log-level", "warning"])
        try:
            started = int(time.time() * 1000)
            time.sleep(args.minutes * 60)
            # Read back through the API: the file keeps most samples in compressed chunks.
            series, samples = export_http(port, args.out, started - 60_000, int(time.time() * 1000))
        finally:
            server.terminate()
            server.wait(timeout=60)
    print(f"{args.out}: {series} series, {samples} samples, {os.path.getsize(args.out)} bytes")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url):
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.load(response)


def export_http(port, out, start, end):
    """Every series' raw samples from `/api/series` and `/history`, an hour a query."""
    base = f"http://127.0.0.1:{port}"
    listing = get_json(f"{base}/api/series?prefix=&limit=10000")
    count = 0
    total = 0
    with gzip.open(out, "wt", compresslevel=9) as f:
        for family in sorted(listing["metrics"], key=lambda m: m["metric"]):
            metric = family["metric"]
            f.write(f"# TYPE {metric} unknown\n")
            for entry in sorted(family["series"], key=lambda e: sorted(e["labels"].items())):
                labels = entry["labels"]
                text = "{" + ",".join(f'{k}="{escape(v)}"' for k, v in sorted(labels.items())) + "}" if labels else ""
                for window in range(start, end, 3_600_000):
                    query = urllib.parse.urlencode({"metric": metric, **labels, "from": window, "to": min(end, window + 3_599_999)})
                    answer = get_json(f"{base}/history?{query}")
                    for found in answer["series"]:
                        if found["labels"] != labels:
                            continue  # an absent label matches "": another series with more labels
                        for ts, value in found["points"]:
                            f.write(f"{metric}{text} {float(value)!r} {ts // 1000}.{ts % 1000:03d}\n")
                            count += 1
                total += 1
        f.write("# EOF\n")
    return total, count


if __name__ == "__main__":
    sys.exit(main())
