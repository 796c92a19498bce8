#!/usr/bin/env python3
"""Checks /ws/metrics with Python's websockets client, compressed and not.

Run through scripts/live-check, which installs websockets. Starts pulsegate (--binary) on a
scratch database with its collector off, connects one client that offers permessage-deflate
and one that does not, each through its own byte-counting relay, and pushes batches shaped
like the host collector's (twenty series, noisy values, one timestamp per batch). Both
clients must receive the same frames; the bytes each relay passed back, per frame, are
reported with their ratio. Ends with a table of the checks and `N passed, M failed`.
"""

import argparse
import json
import random
import signal
import sys
import tempfile
import time

from websockets.sync.client import connect

from pulsecheck import DEFAULT_BINARY, Pulsegate, Relay, Report

BATCHES = 200

# Series like the host collector's: ratios with full precision, byte counts, loads.
SERIES = ([("host_cpu_usage_ratio", {"cpu": str(c)}) for c in ["all", "0", "1"]]
          + [("host_memory_bytes", {"kind": k}) for k in ["total", "available", "cached", "buffers"]]
          + [("host_network_bytes_total", {"device": d, "direction": r}) for d in ["eth0", "lo"] for r in ["rx", "tx"]]
          + [("host_disk_bytes_total", {"device": "sda", "direction": r}) for r in ["read", "written"]]
          + [("host_load", {"period": p}) for p in ["1m", "5m", "15m"]]
          + [("host_filesystem_free_bytes", {"mount": m}) for m in ["/", "/var", "/home", "/tmp"]])


def batch(rng, ts, counters):
    samples = []
    for metric, labels in SERIES:
        key = (metric, tuple(sorted(labels.items())))
        if metric.endswith("_ratio"):
            value = rng.random()
        elif metric.endswith("_total"):
            counters[key] = counters.get(key, 0) + rng.randrange(0, 200_000)
            value = counters[key]
        elif metric == "host_load":
            value = round(rng.uniform(0, 4), 2)
        else:
            value = float(rng.randrange(1 << 30, 1 << 34))
        samples.append({"metric": metric, "labels": labels, "ts": ts, "value": value})
    return samples


def receive(client, count, timeout=30):
    frames = []
    deadline = time.monotonic() + timeout
    while len(frames) < count:
        frames.append(json.loads(client.recv(timeout=max(0.1, deadline - time.monotonic()))))
    return frames


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default=DEFAULT_BINARY)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    report = Report("live-check")
    with tempfile.TemporaryDirectory(prefix="live-check.") as scratch:
        server = Pulsegate(args.binary, scratch, "--collect-interval", "0")
        try:
            report.heading("pulsegate")
            if not report.started(server):
                return report.finish()
            compressed_relay, plain_relay = Relay(server.port), Relay(server.port)
            query = "/ws/metrics?metric=host_*"
            report.heading("websockets", f"websockets: a compressed and a plain client ({BATCHES} batches of {len(SERIES)} series)")
            with connect(f"ws://127.0.0.1:{compressed_relay.port}{query}", compression="deflate", max_size=1 << 24) as compressed, \
                    connect(f"ws://127.0.0.1:{plain_relay.port}{query}", compression=None, max_size=1 << 24) as plain:
                negotiated = compressed.response.headers.get("Sec-WebSocket-Extensions", "")
                report.check("permessage-deflate negotiated without context takeover",
                             negotiated.startswith("permessage-deflate") and "server_no_context_takeover" in negotiated, negotiated)
                report.check("no extension for the client that offered none",
                             plain.response.headers.get("Sec-WebSocket-Extensions") is None, plain.response.headers.get("Sec-WebSocket-Extensions"))
                hellos = [receive(c, 1)[0] for c in (compressed, plain)]
                report.check("each got its hello", all(h["type"] == "hello" for h in hellos), [h["type"] for h in hellos])
                start_bytes = (compressed_relay.bytes_back, plain_relay.bytes_back)
                rng, counters = random.Random(7), {}
                now = int(time.time() * 1000)
                for index in range(BATCHES):
                    server.ingest(batch(rng, now + index * 1000, counters))
                got_compressed, got_plain = receive(compressed, BATCHES), receive(plain, BATCHES)
                report.check("both clients got every batch, in order, the same",
                             got_compressed == got_plain and [f["seq"] for f in got_plain] == list(range(1, BATCHES + 1)),
                             f"{len(got_compressed)} and {len(got_plain)} frames")
                time.sleep(0.5)  # the relays have passed everything on
                wire = (compressed_relay.bytes_back - start_bytes[0], plain_relay.bytes_back - start_bytes[1])
                ratio = wire[0] / wire[1]
                report.check("compression shrinks the bytes on the wire", ratio < 0.6,
                             f"{wire[0] / BATCHES:.0f} bytes per frame compressed, {wire[1] / BATCHES:.0f} plain: ratio {ratio:.2f}")
                # The client's own messages are compressed too (websockets compresses every message).
                compressed.send(json.dumps({"type": "subscribe", "metrics": ["host_load"]}))
                answer = receive(compressed, 1)[0]
                report.check("a compressed client message is understood", answer.get("type") == "subscribed", answer)
            refused = {labels: v for (name, labels), v in server.metrics().items() if name == "pulsegate_ws_messages_rejected_total" and v}
            report.check("no client message refused", not refused, refused)
        finally:
            server.stop()
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
