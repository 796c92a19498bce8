#!/usr/bin/env python3
"""Records the host collector's samples at 1 s into an OpenMetrics fixture for issue 17's
storage benchmark (bytes per sample on real data, beside a Prometheus TSDB block of the
same samples: `promtool tsdb create-blocks-from openmetrics` reads the same file).

    python3 scripts/record_host_fixture.py --minutes 60 --out FILE.om.gz [--binary PATH]
    python3 scripts/record_host_fixture.py --from-db DB --out FILE.om.gz   # export only

Starts pulsegate (a release build by default) on a scratch database with the collector at
1 s and nothing else, waits, stops it, and writes every stored sample: families in name
order, each series' samples in time order, timestamps in seconds with their milliseconds,
values in Python's shortest repr (which reads back to the same bits), `# EOF` last;
gzip-compressed. Python 3 standard library only.
"""

import argparse
import gzip
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time


def escape(value):
    return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def export(db, out):
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
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
    db = args.from_db
    if db is None:
        scratch = tempfile.mkdtemp(prefix="pulsegate-fixture-")
        db = os.path.join(scratch, "host.sqlite")
        server = subprocess.Popen([args.binary, "--port", "0", "--db", db, "--collect-interval", "1s", "--log-level", "warning"])
        try:
            time.sleep(args.minutes * 60)
        finally:
            server.terminate()
            server.wait(timeout=60)
    series, samples = export(db, args.out)
    print(f"{args.out}: {series} series, {samples} samples, {os.path.getsize(args.out)} bytes")


if __name__ == "__main__":
    sys.exit(main())
