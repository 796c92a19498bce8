#!/usr/bin/env python3
"""Checks that a cluster node killed with SIGKILL under push load loses no acknowledged
sample, and that live clients resume through nginx with no gap (issue 14).

Run through scripts/cluster-check, which starts PostgreSQL and nginx (round robin over
--node-ports, with the repository's deploy/nginx/pulsegate-cluster.conf), and stops them
and removes the scratch directory afterwards. This script starts the three pulsegate
nodes on those ports (so that it sees the killed one's exit status) and stops them.

The scenario: six WebSocket clients on /ws/metrics through nginx (round robin puts two on
each node), subscribed to the check's metric; then pushers (threads) POST /ingest through
nginx, each push a few samples of its own series with distinct values and timestamps and
an Idempotency-Key, sent again with the same key until it is answered 2xx (only then is
it acknowledged). After some pushes the node holding the most clients is stopped (SIGSTOP)
until pushes wait on it, then gets SIGKILL; those pushes fail (502) and are retried, the
pushes go on, the clients it held reconnect through nginx with since=<last seq> and
instance=<instance>. The pushes acknowledged before the kill are sent again with their
keys (each must be answered as replayed), and a last push (the barrier) marks the end of
the stream. Then every acknowledged sample must be in /history on each surviving node,
and every client must have seen each of them exactly once, in one global seq order, with
no reset and no gap.

Python 3 standard library only (with scripts/pulsecheck.py). Prints a table of the checks
and `N passed, M failed`; exits 0 when everything passed, 1 otherwise.
"""

import argparse
import collections
import http.client
import json
import os
import re
import signal
import sys
import threading
import time
import urllib.parse

from pulsecheck import HandshakeError, Pulsegate, Report, WebSocket, close_code, http as http_request, \
    metric_value, parse_metrics

METRIC = "cluster_check_push"
# Pushed once after everything else: a client that has it has had every batch before it
# (the stream is in commit order), so whatever a second store would have added is there.
BARRIER = "cluster_check_barrier"
PUSHERS = 4
# Pushes a second per pusher: about 30 a second in all, modest on a 2-core machine that
# also runs PostgreSQL, three nodes and nginx.
PUSH_RATE = 8.0
SAMPLES_PER_PUSH = 5
CLIENTS = 6
# Acknowledged pushes before the kill and after it: a few seconds of load each side.
PUSHES_BEFORE_KILL = 120
PUSHES_AFTER_KILL = 120
# A push is sent again until it is answered 2xx, for at most this long; the nodes left
# answer within milliseconds, so this only bounds a hung cluster.
PUSH_DEADLINE = 30.0
# How long a client that lost its connection keeps trying to connect again.
RECONNECT_DEADLINE = 30.0


def wait_for(predicate, timeout, step=0.05):
    """Polls predicate() until it holds (True) or timeout seconds have passed (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)


# ---------------------------------------------------------------- pushers

def send_push(port, key, body):
    """POST /ingest of a Prometheus text body with an Idempotency-Key, through nginx:
    (2xx?, accepted, answered as replayed?, the answer in short). Connection errors raise."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/ingest", body=body, headers={
            "Content-Type": "text/plain; version=0.0.4", "Idempotency-Key": key})
        response = conn.getresponse()
        answer = response.read()
    finally:
        conn.close()
    try:
        accepted = json.loads(answer).get("accepted")
    except (ValueError, AttributeError):
        accepted = None
    # nginx's error pages are HTML: their text alone.
    text = " ".join(re.sub(r"<[^>]+>", " ", answer.decode(errors="replace")).split())
    return 200 <= response.status < 300, accepted, response.headers.get("Idempotent-Replayed") == "true", \
        f"{response.status} {text[:80]}"


class Pusher(threading.Thread):
    """POSTs pushes of SAMPLES_PER_PUSH samples of METRIC{pusher=<label>} through nginx,
    PUSH_RATE a second, one at a time. Sample k of the pusher has value k and ts t0 + k
    (ms): countable, and distinct within its series. A push that is not answered 2xx (a
    connection error, nginx's 502 when its node died under it) is sent again, same body,
    same Idempotency-Key, until it is; only then is it acknowledged."""

    def __init__(self, label, port, run_id, t0, stop):
        super().__init__(name=f"pusher-{label}", daemon=True)
        self.label = label
        self.port = port
        self.run_id = run_id
        self.t0 = t0
        self.stop = stop
        self.lock = threading.Lock()
        self.counter = 0
        self.acked = []  # {index, key, body, samples: [(value, ts)], accepted, replayed, attempts, acked_at}
        self.retries = []  # (index, what, started, ended) for every attempt not answered 2xx
        self.in_flight = None  # when the attempt under way began (time.monotonic()), if one is
        self.gave_up = []  # indexes of pushes not acknowledged within PUSH_DEADLINE
        self.crashed = None

    def run(self):
        try:
            period = 1.0 / PUSH_RATE
            next_at = time.monotonic()
            index = 0
            while not self.stop.is_set():
                index += 1
                samples = []
                for _ in range(SAMPLES_PER_PUSH):
                    self.counter += 1
                    samples.append((float(self.counter), self.t0 + self.counter))
                self.push(index, samples)
                # Paced, not bursting: a pusher that fell behind (a retry) goes on from now.
                next_at = max(next_at + period, time.monotonic())
                self.stop.wait(max(0.0, next_at - time.monotonic()))
        except Exception as e:  # reported as a failed check, not lost in a thread
            self.crashed = f"{type(e).__name__}: {e}"

    def push(self, index, samples):
        key = f"{self.run_id}-{self.label}-{index}"
        body = "".join(f'{METRIC}{{pusher="{self.label}"}} {value:.0f} {ts}\n' for value, ts in samples).encode()
        deadline = time.monotonic() + PUSH_DEADLINE
        attempts = 0
        while True:
            attempts += 1
            started = self.in_flight = time.monotonic()
            try:
                try:
                    ok, accepted, replayed, what = send_push(self.port, key, body)
                finally:
                    self.in_flight = None
                if ok:
                    with self.lock:
                        self.acked.append({
                            "index": index, "key": key, "body": body, "samples": samples, "accepted": accepted,
                            "replayed": replayed, "attempts": attempts, "acked_at": time.monotonic()})
                    return
            except (OSError, http.client.HTTPException) as e:
                what = f"{type(e).__name__}: {e}"
            with self.lock:
                self.retries.append((index, what, started, time.monotonic()))
            if time.monotonic() >= deadline:
                with self.lock:
                    self.gave_up.append(index)
                return
            time.sleep(0.1)  # a short pause between retries: nginx marks the dead node failed meanwhile

    def waiting_for(self):
        """Seconds the attempt under way has waited for its answer (0 when none is)."""
        started = self.in_flight
        return time.monotonic() - started if started is not None else 0.0

    def acked_count(self, after=None):
        with self.lock:
            return sum(1 for p in self.acked if after is None or p["acked_at"] > after)


# ---------------------------------------------------------------- live clients

class Client(threading.Thread):
    """A WebSocket client on /ws/metrics?metric=METRIC&metric=BARRIER through nginx. Records every frame
    and every sample with its frame's seq; when its connection drops, connects again through
    nginx with since=<last seq>&instance=<instance>. Each attempt carries conn=<label>-<n>,
    which only tags it in nginx's access log (pulsegate ignores unknown parameters)."""

    def __init__(self, number, port, stop):
        super().__init__(name=f"client-c{number}", daemon=True)
        self.label = f"c{number}"
        self.port = port
        self.stop = stop
        self.lock = threading.Lock()
        self.attempts = 0
        self.connections = []  # {tag, since, hello, dropped}
        self.connect_failures = []  # (tag, what)
        self.received = []  # (pusher, value, ts, seq, connection number from 1)
        self.frame_seqs = []  # seq of every samples frame, in the order read
        self.barrier = None  # the seq the barrier came in
        self.others = []  # metrics outside the subscription that came all the same
        self.resets, self.gaps, self.errors, self.statuses = [], [], [], []
        self.instance = None
        self.last_seq = None
        self.failure = None

    def run(self):
        try:
            while not self.stop.is_set():
                ws = self.connect()
                if ws is None:
                    return
                self.read(ws)
        except Exception as e:
            self.failure = f"{type(e).__name__}: {e}"

    def connect(self):
        deadline = time.monotonic() + RECONNECT_DEADLINE
        while not self.stop.is_set():
            self.attempts += 1
            tag = f"{self.label}-{self.attempts}"
            query = [("metric", METRIC), ("metric", BARRIER), ("conn", tag)]
            since = self.last_seq
            if since is not None:
                query += [("since", str(since)), ("instance", self.instance)]
            try:
                ws = WebSocket.connect(self.port, path="/ws/metrics?" + urllib.parse.urlencode(query), timeout=10)
                with self.lock:
                    self.connections.append({"tag": tag, "since": since, "hello": None, "dropped": None})
                return ws
            except (OSError, EOFError, HandshakeError) as e:
                with self.lock:
                    self.connect_failures.append((tag, f"{type(e).__name__}: {e}"))
                if time.monotonic() >= deadline:
                    self.failure = f"could not connect again within {RECONNECT_DEADLINE:.0f} s: {e}"
                    return None
                self.stop.wait(0.1)
        return None

    def read(self, ws):
        connection = self.connections[-1]
        try:
            while not self.stop.is_set():
                opcode, payload = ws.recv(timeout=0.25)
                if opcode is None:
                    continue
                if opcode == 0x8:
                    connection["dropped"] = f"close frame {close_code(payload)}"
                    return
                if opcode == 0x1:
                    self.frame(json.loads(payload), len(self.connections))
            ws.close(1000)  # the check is over: a normal close
        except (OSError, EOFError) as e:
            connection["dropped"] = f"{type(e).__name__}: {e}"
        finally:
            ws.close()

    def frame(self, doc, number):
        kind, seq = doc.get("type"), doc.get("seq")
        with self.lock:
            if kind == "hello":
                self.connections[-1]["hello"] = doc
                if self.instance is None:
                    self.instance = doc.get("instance")
                self.last_seq = seq
            elif kind == "samples":
                self.frame_seqs.append(seq)
                for s in doc.get("samples", []):
                    if s.get("metric") == METRIC:
                        self.received.append((s.get("labels", {}).get("pusher"), s.get("value"), s.get("ts"), seq, number))
                    elif s.get("metric") == BARRIER and self.barrier is None:
                        self.barrier = seq
                    else:
                        self.others.append(s.get("metric"))
                self.last_seq = seq
            elif kind in ("reset", "gap"):
                # A failure of the check; the stream goes on after it from its seq.
                (self.resets if kind == "reset" else self.gaps).append(doc)
                self.last_seq = seq
            elif kind == "status":
                self.statuses.append(doc)
            elif kind == "error":
                self.errors.append(doc)

    def dropped(self):
        with self.lock:
            return [c for c in self.connections if c["dropped"]]


# ---------------------------------------------------------------- the scenario

class Scenario:
    def __init__(self, args, report, nodes):
        self.args = args
        self.report = report
        self.nodes = nodes
        self.stop_pushers = threading.Event()
        self.stop_clients = threading.Event()
        self.pushers = []
        self.clients = []
        self.victim = None
        self.victim_status = None
        self.gauges_before = {}
        self.freeze_rounds = 0
        self.frozen_at = None
        self.resent = []

    def node_name(self, port):
        for n, node in enumerate(self.nodes, 1):
            if node.port == port:
                return f"node{n}"
        return f"port {port}"

    def ws_clients(self, node):
        """The node's pulsegate_ws_clients gauge (its live connections now)."""
        answer = http_request("GET", node.base + "/metrics", timeout=10)
        value = metric_value(parse_metrics(answer.body.decode()), "pulsegate_ws_clients") if answer.status == 200 else None
        return int(value) if value is not None else None

    def acked(self, after=None):
        return sum(p.acked_count(after) for p in self.pushers)

    def run(self):
        r = self.report
        args = self.args

        r.heading("cluster")
        for n, node in enumerate(self.nodes, 1):
            try:
                node.start()
            except RuntimeError as e:
                r.check(f"node{n} started", False, e)
                return
            r.check(f"node{n} started", True, f"{node.binary} on {node.base}, pid {node.pid}")
        base = f"http://127.0.0.1:{args.nginx_port}"

        @r.run("/healthz through nginx: cluster mode")
        def _():
            answer = http_request("GET", base + "/healthz")
            doc = answer.json()
            return answer.status == 200 and doc.get("mode") == "cluster", f"{answer.status} {answer.body.decode()[:160]}"

        # ---- clients, connected (hello read) before the first push: each must then see
        # every acknowledged sample.
        r.heading("clients")
        self.clients = [Client(n, args.nginx_port, self.stop_clients) for n in range(1, CLIENTS + 1)]
        for c in self.clients:
            c.start()
            # One at a time, so that nginx's round robin deals them out evenly.
            wait_for(lambda: c.connections and c.connections[-1]["hello"] is not None or c.failure, 20)
        hellos = [c.connections[0]["hello"] if c.connections else None for c in self.clients]
        instances = {h.get("instance") for h in hellos if h}
        if not r.check(f"{CLIENTS} clients connected through nginx, one instance in every hello",
                       all(hellos) and len(instances) == 1,
                       f"{sum(1 for h in hellos if h)} hellos, instances {sorted(instances)}; "
                       + "; ".join(f"{c.label}: {c.failure}" for c in self.clients if c.failure)):
            return

        counts = {}

        def all_counted():
            counts.update({n: self.ws_clients(n) for n in self.nodes})
            return sum(v or 0 for v in counts.values()) == CLIENTS

        spread = wait_for(all_counted, 10, step=0.2)
        self.gauges_before = dict(counts)
        self.victim = max(self.nodes, key=lambda n: counts.get(n) or 0)  # the first of the fullest
        detail = ", ".join(f"{self.node_name(n.port)} {counts.get(n)}" for n in self.nodes)
        if not r.check("pulsegate_ws_clients on the nodes add up to the clients; the victim holds some",
                       spread and (counts.get(self.victim) or 0) > 0,
                       f"{detail}; victim {self.node_name(self.victim.port)}"):
            return

        # ---- load
        r.heading("push")
        run_id = os.urandom(6).hex()
        t0 = int(time.time() * 1000) - 60_000  # a minute back: t0 + k stays in the past
        self.t0 = t0
        self.pushers = [Pusher(f"p{n}", args.nginx_port, run_id, t0, self.stop_pushers)
                        for n in range(1, PUSHERS + 1)]
        for p in self.pushers:
            p.start()
        loaded = wait_for(lambda: self.acked() >= PUSHES_BEFORE_KILL and all(c.received for c in self.clients), 60)
        r.check(f"load before the kill: {PUSHES_BEFORE_KILL} pushes acknowledged, every client receiving",
                loaded, f"{self.acked()} pushes acknowledged; samples per client: "
                + " ".join(str(len(c.received)) for c in self.clients))

        # ---- the kill
        r.heading("kill")
        victim = self.victim
        pid = victim.pid
        frozen = self.freeze_with_a_push_inside(victim)
        killed_at = time.monotonic()
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(timeout=30)
        self.victim_status = victim.process.returncode
        r.check(f"{self.node_name(victim.port)} (pid {pid}) died of SIGKILL", self.victim_status == -signal.SIGKILL,
                f"return code {self.victim_status}")
        victims_clients = self.gauges_before.get(victim) or 0

        def resumed():
            dropped = [c for c in self.clients if c.dropped()]
            return len(dropped) >= victims_clients and all(
                c.connections[-1]["hello"] is not None and any(x[4] == len(c.connections) for x in c.received)
                for c in dropped)

        went_on = wait_for(lambda: self.acked(after=killed_at) >= PUSHES_AFTER_KILL and resumed(), 60)
        r.check(f"load after the kill: {PUSHES_AFTER_KILL} more pushes acknowledged, dropped clients streaming again",
                went_on, f"{self.acked(after=killed_at)} pushes acknowledged since the kill; "
                + f"{sum(1 for c in self.clients if c.dropped())} clients dropped, victim had {victims_clients}")

        # The pushes the victim held when it died: begun before the kill, failed after it.
        caught = [(p.label, index, what) for p in self.pushers for index, what, started, ended in p.retries
                  if started < killed_at <= ended]
        r.check("pushes were in flight on the victim when it died (it was stopped with SIGSTOP until one was)",
                frozen and caught, f"{len(caught)} pushes: "
                + "; ".join(f"{label} #{index}: {what}" for label, index, what in caught[:4])
                + f"; {self.freeze_rounds} freeze{'s' if self.freeze_rounds > 1 else ''}")

        self.stop_pushers.set()
        for p in self.pushers:
            p.join(PUSH_DEADLINE + 15)

        # Every push acknowledged before the victim was stopped (a third of them stored
        # through it), sent again after its death with its key, as a pusher whose answer
        # was lost would: the cluster must answer it as replayed and store nothing again
        # (the stream and /history checks below would see a second copy).
        self.resent = []
        for p in self.pushers:
            for push in [x for x in p.acked if x["acked_at"] < self.frozen_at]:
                try:
                    self.resent.append((push["key"], *send_push(args.nginx_port, push["key"], push["body"])))
                except (OSError, http.client.HTTPException) as e:
                    self.resent.append((push["key"], False, None, False, f"{type(e).__name__}: {e}"))

        # ---- drain: every client has the barrier, committed after everything else
        r.heading("drain")
        try:
            answer = http_request("POST", f"{base}/ingest", json.dumps(
                {"samples": [{"metric": BARRIER, "value": 1}]}).encode(), {"Content-Type": "application/json"})
            pushed = f"answered {answer.status}"
        except OSError as e:
            pushed = f"{type(e).__name__}: {e}"
        drained = wait_for(lambda: all(c.barrier is not None for c in self.clients), 30)
        r.check("every client got the barrier pushed after everything else (so every batch before it)",
                drained, f"barrier {pushed}; its seq per client: " + " ".join(f"{c.label} {c.barrier}" for c in self.clients))
        self.stop_clients.set()
        for c in self.clients:
            c.join(15)

        self.check_pushes()
        self.check_reconnects(victim)
        self.check_history(victim)
        self.check_stream()

    def freeze_with_a_push_inside(self, victim):
        """Stops the victim (SIGSTOP) until a push has been waiting on it for a while, so
        that the SIGKILL that follows finds acknowledged-to-be pushes in flight, and their
        retries with the same Idempotency-Key are tested; a kill at a random moment finds
        none most of the time, at this modest load. A push that waits is on the victim only
        if the rest of the cluster still writes meanwhile (a probe pushed straight to a
        survivor is answered): a node stopped inside its write transaction holds the stream
        head's row lock, and every node's writes wait for it. Then it is let go on
        (SIGCONT) and stopped again later. Returns whether it is stopped with a push inside."""
        survivor = next(n for n in self.nodes if n is not victim)
        self.freeze_rounds = 0
        self.frozen_at = time.monotonic()
        for _ in range(5):
            self.freeze_rounds += 1
            victim.process.send_signal(signal.SIGSTOP)
            # A second is far beyond a push's round trip to a node that runs (milliseconds).
            if wait_for(lambda: any(p.waiting_for() >= 1.0 for p in self.pushers), 10):
                try:
                    probe = http_request("POST", survivor.base + "/ingest", json.dumps(
                        {"samples": [{"metric": METRIC + "_probe", "value": self.freeze_rounds}]}).encode(),
                        {"Content-Type": "application/json"}, timeout=2)
                    if probe.status == 200:
                        return True
                except OSError:
                    pass  # not answered within 2 s: the cluster's writes wait for the victim
            victim.process.send_signal(signal.SIGCONT)
            acked = self.acked()
            wait_for(lambda: self.acked() >= acked + 20, 30)
        return False

    # ------------------------------------------------------------ judgements

    def acked_samples(self):
        """{(pusher, value): ts} of every acknowledged sample."""
        samples = {}
        for p in self.pushers:
            with p.lock:
                for push in p.acked:
                    for value, ts in push["samples"]:
                        samples[(p.label, value)] = ts
        return samples

    def check_pushes(self):
        r = self.report
        r.heading("pushes")
        pushes = [push for p in self.pushers for push in p.acked]
        retries = [x for p in self.pushers for x in p.retries]
        gave_up = [(p.label, i) for p in self.pushers for i in p.gave_up]
        crashed = [f"{p.label}: {p.crashed}" for p in self.pushers if p.crashed or p.is_alive()]
        replayed = sum(1 for push in pushes if push["replayed"])
        whats = collections.Counter(what[:60] for _, what, _, _ in retries)
        r.check("every push acknowledged (2xx), retried with its Idempotency-Key until then",
                not gave_up and not crashed and pushes,
                f"{len(pushes)} pushes ({len(pushes) * SAMPLES_PER_PUSH} samples) by {PUSHERS} pushers; "
                f"{len(retries)} attempts not 2xx ({dict(whats) or 'none'}), {replayed} answered as replayed; "
                f"gave up: {gave_up or 'none'}; {'; '.join(crashed) or ''}")
        bad = [(key, what, replayed) for key, ok, accepted, replayed, what in self.resent
               if not ok or accepted != SAMPLES_PER_PUSH or not replayed]
        r.check("pushes acknowledged before the kill, sent again with their keys after it: "
                f"answered 2xx, Idempotent-Replayed: true, accepted {SAMPLES_PER_PUSH}",
                self.resent and not bad, f"{len(self.resent)} sent again; wrong: {bad[:3]}" if bad
                else f"{len(self.resent)} sent again, all replayed")
        wrong = [(push["key"], push["accepted"]) for push in pushes
                 if push["accepted"] != SAMPLES_PER_PUSH]
        r.check(f"every 2xx answer says accepted {SAMPLES_PER_PUSH}", not wrong,
                f"wrong: {wrong[:5]}" if wrong else f"{len(pushes)} answers")

    def check_reconnects(self, victim):
        r = self.report
        r.heading("reconnects")
        dropped = [c for c in self.clients if c.dropped()]
        victims_clients = self.gauges_before.get(victim) or 0
        r.check("the victim's clients lost their connection, the others did not",
                len(dropped) == victims_clients > 0,
                f"{len(dropped)} dropped ({', '.join(c.label for c in dropped)}); "
                f"pulsegate_ws_clients on the victim before the kill: {victims_clients}")
        failures = [f"{c.label}: {c.failure}" for c in self.clients if c.failure]
        r.check("each dropped client connected again through nginx",
                not failures and all(len(c.connections) >= 2 and c.connections[-1]["hello"] for c in dropped),
                "; ".join(failures) or ", ".join(
                    f"{c.label}: {len(c.connections)} connections, {len(c.connect_failures)} refused attempts"
                    for c in dropped))

        # Where each connection went, from nginx's access log (a WebSocket's line is
        # written when it closes: all are closed by now).
        tags = {c["tag"] for client in self.clients for c in client.connections}
        landed = {}

        def read_log():
            try:
                with open(self.args.nginx_access_log, errors="replace") as f:
                    for line in f:
                        m = re.match(r'GET /ws/metrics\?\S*?\bconn=([\w-]+)\S* (\d{3}) "([^"]*)"', line)
                        if m:
                            landed[m.group(1)] = (int(m.group(2)), m.group(3).split(", ")[-1])
            except OSError:
                pass
            return tags <= landed.keys()

        logged = wait_for(read_log, 15, step=0.2)
        victim_addr = f"127.0.0.1:{victim.port}"
        on_victim = sorted(c.label for c in self.clients if c.connections
                           and landed.get(c.connections[0]["tag"], (0, ""))[1] == victim_addr)
        r.check("nginx's log: the clients first on the victim are those that dropped",
                logged and on_victim == sorted(c.label for c in dropped),
                f"on the victim ({self.node_name(victim.port)}): {', '.join(on_victim) or 'none'}"
                + ("" if logged else f"; not in the log: {sorted(tags - landed.keys())}"))
        later = [(c.label, x["tag"], landed.get(x["tag"])) for c in dropped for x in c.connections[1:]]
        bad = [x for x in later if x[2] is None or x[2][0] != 101 or x[2][1] == victim_addr
               or x[2][1] not in {f"127.0.0.1:{n.port}" for n in self.nodes}]
        r.check("their reconnections went to surviving nodes (101)", later and not bad,
                "; ".join(f"{label} -> {self.node_name(int(where[1].rsplit(':', 1)[1])) if where else '?'}"
                          f" ({where[0] if where else 'not logged'})" for label, _, where in later))
        resumes = [(c.label, x) for c in self.clients for x in c.connections[1:]]
        wrong = [f"{label}: since {x['since']}, hello {json.dumps(x['hello'])[:150]}" for label, x in resumes
                 if not x["hello"] or x["hello"].get("seq") != x["since"]
                 or x["hello"].get("instance") != self.clients[0].instance]
        r.check("each resume's hello: seq = since, the same instance", resumes and not wrong,
                "; ".join(wrong) or ", ".join(f"{label} since {x['since']}" for label, x in resumes))

    def check_history(self, victim):
        r = self.report
        r.heading("history")
        acked = self.acked_samples()
        expected = {(p, v, ts) for (p, v), ts in acked.items()}
        top = max((ts for ts in acked.values()), default=self.t0)
        query = urllib.parse.urlencode({"metric": METRIC, "from": self.t0, "to": top + 1})
        for n, node in enumerate(self.nodes, 1):
            if node is victim:
                continue

            @r.run(f"node{n}: /history holds every acknowledged sample, once, exactly")
            def _():
                answer = node.get(f"/history?{query}", timeout=30)
                if answer.status != 200:
                    return False, f"{answer.status} {answer.body[:200]!r}"
                points = [(s.get("labels", {}).get("pusher"), v, ts)
                          for s in answer.json().get("series", []) for ts, v in s.get("points", [])]
                got = set(points)
                missing, extra = expected - got, got - expected
                duplicates = len(points) - len(got)
                ok = not missing and not extra and not duplicates and len(points) == len(expected)
                return ok, (f"{len(points)} points, {len(expected)} acknowledged; missing {len(missing)} "
                            f"{sorted(missing)[:3]}, unexpected {len(extra)} {sorted(extra)[:3]}, duplicates {duplicates}")

    def check_stream(self):
        r = self.report
        r.heading("stream")
        acked = self.acked_samples()
        resets = [(c.label, d) for c in self.clients for d in c.resets]
        gaps = [(c.label, d) for c in self.clients for d in c.gaps]
        # No node lost PostgreSQL here, and the clients send nothing: a degraded status or
        # an error frame is a surprise too.
        odd = [(c.label, d) for c in self.clients for d in c.errors + c.statuses if d.get("stream") != "ok"]
        r.check("no reset, gap, error or degraded status received", not resets and not gaps and not odd,
                f"resets: {[(l, json.dumps(d)[:200]) for l, d in resets]}; gaps: {gaps[:3]}; others: {odd[:3]}"
                if resets or gaps or odd else f"{sum(len(c.connections) for c in self.clients)} connections")
        others = [(c.label, collections.Counter(c.others).most_common(3)) for c in self.clients if c.others]
        r.check(f"only {METRIC} and {BARRIER} came (metric= in the upgrade URL)", not others,
                f"{others}" if others else f"{sum(len(c.received) for c in self.clients)} samples")

        # One global order: the seq a sample came in, by client.
        seqs = collections.defaultdict(set)
        for c in self.clients:
            for p, v, _, seq, _ in c.received:
                seqs[(p, v)].add(seq)
        split = {k: sorted(s) for k, s in seqs.items() if len(s) != 1}
        r.check("one global order: each sample came in the same seq to every client", seqs and not split,
                f"{len(split)} samples with several seqs, e.g. {sorted(split.items())[:3]}" if split
                else f"{len(seqs)} samples, seqs {min(min(s) for s in seqs.values())}.."
                     f"{max(max(s) for s in seqs.values())}")
        seq_of = {k: min(s) for k, s in seqs.items()}

        for c in self.clients:
            @r.run(f"{c.label}: every acknowledged sample exactly once, exact, seq rising across "
                   f"{len(c.connections)} connection{'s' if len(c.connections) > 1 else ''}")
            def _():
                first = c.connections[0]["hello"]["seq"]
                # Committed after its first hello: every one here (the pushers started
                # after every client's hello); seq unknown means no client saw it.
                expected = {k for k in acked if seq_of.get(k, first + 1) > first}
                got = collections.Counter((p, v) for p, v, _, _, _ in c.received)
                missing = expected - got.keys()
                duplicates = {k: n for k, n in got.items() if n > 1}
                extra = got.keys() - acked.keys()
                wrong_ts = [(p, v, ts) for p, v, ts, _, _ in c.received if (p, v) in acked and acked[(p, v)] != ts]
                rising = all(a < b for a, b in zip(c.frame_seqs, c.frame_seqs[1:]))
                ok = not missing and not duplicates and not extra and not wrong_ts and rising \
                    and len(expected) == len(acked)
                return ok, (f"{sum(got.values())} received of {len(expected)} expected (of {len(acked)} acknowledged); "
                            f"missing {len(missing)} {sorted(missing)[:3]}, duplicates {len(duplicates)} "
                            f"{sorted(duplicates.items())[:3]}, unacknowledged {len(extra)}, wrong ts {wrong_ts[:3]}, "
                            f"{len(c.frame_seqs)} frames, seqs "
                            + ("rising" if rising else f"out of order: {c.frame_seqs[:40]}"))

        # Commit order: a push's samples share one batch, and a pusher's next push (sent
        # after the answer to the previous one) lands in a later batch.
        split_pushes, backwards = [], []
        for p in self.pushers:
            last = None
            for push in sorted(p.acked, key=lambda x: x["index"]):
                batch = {seq_of.get((p.label, v)) for v, _ in push["samples"]}
                if len(batch) != 1 or None in batch:
                    split_pushes.append((push["key"], sorted(batch, key=str)))
                    continue
                seq = batch.pop()
                if last is not None and seq <= last:
                    backwards.append((push["key"], last, seq))
                last = seq
        r.check("each push in one batch; a pusher's pushes in rising seq (seq order is commit order)",
                not split_pushes and not backwards,
                f"split: {split_pushes[:3]}; backwards: {backwards[:3]}" if split_pushes or backwards
                else f"{sum(len(p.acked) for p in self.pushers)} pushes")


# ---------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", required=True, help="the pulsegate to start")
    parser.add_argument("--scratch", required=True, help="the wrapper's scratch directory (the nodes' databases and logs go there)")
    parser.add_argument("--nginx-port", type=int, required=True, help="nginx's port, in front of the nodes")
    parser.add_argument("--node-ports", required=True, help="the nodes' ports, comma-separated, as in nginx's upstream")
    parser.add_argument("--postgres-url-file", required=True, help="the file holding PostgreSQL's URL")
    parser.add_argument("--nginx-access-log", required=True)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    with open(args.postgres_url_file) as f:
        url = f.read().strip()
    report = Report("cluster-check")
    nodes = []
    for n, port in enumerate((int(p) for p in args.node_ports.split(",")), 1):
        # The URL (with its password) through the environment, not argv: out of `ps`.
        node = Pulsegate(args.binary, os.path.join(args.scratch, f"node{n}"), "--node", f"node{n}",
                         env={"PULSEGATE_POSTGRES_URL": url}, pids_file=os.path.join(args.scratch, "pids"))
        node.port = port  # nginx's upstream points here
        nodes.append(node)
    scenario = Scenario(args, report, nodes)
    started = time.monotonic()
    try:
        scenario.run()
        report.heading("end")
        for n, node in enumerate(nodes, 1):
            if node is scenario.victim:
                continue
            code = node.stop()
            report.check(f"node{n} stopped cleanly on SIGTERM", code == 0, f"exit status {code}")
    finally:
        try:
            scenario.stop_pushers.set()
            scenario.stop_clients.set()
            for thread in scenario.pushers + scenario.clients:
                if thread.ident is not None:  # started (a signal may come before all are)
                    thread.join(5)
            if report.failed:
                for n, node in enumerate(nodes, 1):
                    print(f"\n== the end of node{n}'s log ({node.log_path})\n{node.log_tail(15)}", file=sys.stderr)
        finally:
            for node in nodes:
                if node.running():
                    node.process.send_signal(signal.SIGCONT)  # a node left stopped would not hear SIGTERM
                node.stop()
    print(f"\n(scenario: {time.monotonic() - started:.1f} s)")
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
