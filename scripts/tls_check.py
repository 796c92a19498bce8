#!/usr/bin/env python3
"""Checks Pulsegate through nginx terminating TLS (deploy/nginx/pulsegate.conf).

Run through scripts/tls-check, which makes the throwaway CA and certificate and starts
nginx (whose upstream is this script's relay, on --relay-port), and stops it and removes
the scratch directory afterwards. This script starts pulsegate (--binary, on a scratch
database) and the relay, which passes every byte on to pulsegate and records the request
heads pulsegate receives, and stops them.

Every TLS client here trusts the throwaway CA only (--ca) and verifies the certificate
and the host name, except the two that check that a client which does not trust the CA
is refused. Python 3 standard library only (with scripts/pulsecheck.py; and curl, for
HTTP/2). Prints a table of the checks and `N passed, M failed`; exits 0 when everything
passed, 1 otherwise.
"""

import argparse
import base64
import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.parse
import warnings

from pulsecheck import Pulsegate, Relay, Report, WebSocket, accept_for, close_code, judge_uptime

MAX_BODY = 8 * 1024 * 1024  # Pulsegate's default --max-body-bytes, and the config's client_max_body_size


def parse_head(head):
    """(request line, {lower-case name: [values]})"""
    lines = head.split("\r\n")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers.setdefault(name.strip().lower(), []).append(value.strip())
    return lines[0], headers


def expect_headers(head, expected):
    """(ok, detail): each expected header present once with exactly that value."""
    line, headers = parse_head(head)
    wrong = []
    for name, value in expected.items():
        got = headers.get(name.lower())
        if got != [value]:
            wrong.append(f"{name}: {got!r} instead of {value!r}")
    if wrong:
        return False, "; ".join(wrong)
    return True, f"{line}; " + ", ".join(f"{n}: {v}" for n, v in expected.items())


# ---------------------------------------------------------------- clients

class Checks:
    def __init__(self, args, report, relay, server):
        self.args = args
        self.server = server
        self.report = report
        self.relay = relay
        self.port = args.tls_port
        self.base = f"https://localhost:{self.port}"
        self.origin = f"https://localhost:{self.port}"
        self.host = f"localhost:{self.port}"

    def context(self, alpn=("http/1.1",)):
        """A client context that trusts the throwaway CA only, and verifies."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cafile=self.args.ca)
        if alpn:
            ctx.set_alpn_protocols(list(alpn))
        return ctx

    def https(self, method, path, body=None, headers=None, host="localhost", timeout=30):
        """(status, headers, body, connection's TLS version)"""
        conn = http.client.HTTPSConnection(host, self.port, context=self.context(), timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, r.headers, r.read(), conn.sock.version()
        finally:
            conn.close()

    def handshake(self, ctx, server_hostname="localhost", host="127.0.0.1"):
        """The TLS session's (version, cipher name, ALPN protocol)."""
        with socket.create_connection((host, self.port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=server_hostname) as s:
                return s.version(), s.cipher()[0], s.selected_alpn_protocol()

    # ------------------------------------------------------------ TLS settings

    def tls(self):
        r = self.report
        r.heading("tls")

        @r.run("TLS 1.3 with the CA trusted")
        def _():
            version, cipher, _ = self.handshake(self.context())
            return version == "TLSv1.3", f"{version} {cipher}"

        @r.run("TLS 1.2 gets a forward-secret AEAD cipher")
        def _():
            ctx = self.context()
            ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            version, cipher, _ = self.handshake(ctx)
            ok = version == "TLSv1.2" and cipher.startswith("ECDHE-") and ("GCM" in cipher or "CHACHA20" in cipher)
            return ok, f"{version} {cipher}"

        def refused(ctx, what):
            try:
                version, cipher, _ = self.handshake(ctx)
                return False, f"accepted: {version} {cipher}"
            except ssl.SSLError as e:
                # The server's alert, not the client refusing to offer it: the client
                # below allows it (security level 0).
                ok = any(k in str(e) for k in what)
                return ok, str(e)

        @r.run("TLS 1.1 refused by ssl_protocols (Debian's http level allows it)")
        def _():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                ctx = self.context()
                ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
                ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_1
            return refused(ctx, ("PROTOCOL_VERSION", "UNSUPPORTED_PROTOCOL"))

        @r.run("TLS 1.2 without forward secrecy or with CBC refused")
        def _():
            ctx = self.context()
            ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            ctx.set_ciphers("AES128-SHA:AES256-SHA:AES128-GCM-SHA256:AES256-GCM-SHA384:"
                            "ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:ECDHE-RSA-AES128-SHA256:"
                            "DES-CBC3-SHA:@SECLEVEL=0")
            return refused(ctx, ("HANDSHAKE_FAILURE", "NO_SHARED_CIPHER"))

        @r.run("HTTP/2 offered in ALPN")
        def _():
            version, _, alpn = self.handshake(self.context(("h2", "http/1.1")))
            return alpn == "h2", f"{version}, ALPN {alpn}"

        @r.run("client without the CA: verification fails (Python)")
        def _():
            ctx = ssl.create_default_context()  # the system's trust store
            try:
                self.handshake(ctx)
                return False, "the handshake succeeded"
            except ssl.SSLCertVerificationError as e:
                return True, e.verify_message or str(e)

        @r.run("client without the CA: verification fails (curl)")
        def _():
            p = subprocess.run(["curl", "-sS", "-o", "/dev/null", f"{self.base}/healthz"],
                               capture_output=True, text=True, timeout=30)
            return p.returncode == 60, f"exit {p.returncode}: {p.stderr.strip()}"

        @r.run("CA trusted but wrong name: verification fails")
        def _():
            try:
                self.handshake(self.context(), server_hostname="pulsegate.invalid")
                return False, "the handshake succeeded"
            except ssl.SSLCertVerificationError as e:
                return True, e.verify_message or str(e)

        @r.run("plain HTTP to the TLS port fails")
        def _():
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                conn.request("GET", "/healthz")
                resp = conn.getresponse()
                body = resp.read().decode(errors="replace")
            finally:
                conn.close()
            ok = resp.status == 400 and "plain HTTP request was sent to HTTPS port" in body
            return ok, f"{resp.status}: {' '.join(re.sub('<[^>]+>', ' ', body).split())}"

        @r.run("plain HTTP on port 80's block redirects to https")
        def _():
            conn = http.client.HTTPConnection("localhost", self.args.http_port, timeout=10)
            try:
                conn.request("GET", "/healthz?x=1")
                resp = conn.getresponse()
                resp.read()
            finally:
                conn.close()
            location = resp.headers.get("Location")
            return resp.status == 301 and location == "https://localhost/healthz?x=1", f"{resp.status} Location: {location}"

        if self.args.ipv6:
            @r.run("IPv6 ([::1]) with the CA trusted")
            def _():
                with socket.create_connection(("::1", self.port), timeout=10) as raw:
                    with self.context().wrap_socket(raw, server_hostname="localhost") as s:
                        return True, f"{s.version()} {s.cipher()[0]}"

    # ------------------------------------------------------------ HTTPS

    def http(self):
        r = self.report
        r.heading("https")

        @r.run("GET /healthz (HTTP/1.1)")
        def _():
            status, headers, body, version = self.https("GET", "/healthz")
            doc = json.loads(body)
            ok = status == 200 and headers.get_content_type() == "application/json" and doc.get("status") == "ok"
            return ok, f"{status} {version} {body.decode()[:90]}"

        @r.run("HSTS header on HTTPS answers")
        def _():
            _, headers, _, _ = self.https("GET", "/healthz")
            value = headers.get("Strict-Transport-Security")
            return value is not None and "max-age=" in value, f"Strict-Transport-Security: {value}"

        @r.run("GET https://127.0.0.1:<port>/healthz (IP in the certificate)")
        def _():
            status, _, body, _ = self.https("GET", "/healthz", host="127.0.0.1")
            return status == 200 and json.loads(body).get("status") == "ok", f"{status}"

        token = "tls-check-h2-" + os.urandom(6).hex()

        @r.run("GET /healthz over HTTP/2 (curl)")
        def _():
            p = subprocess.run(["curl", "-sS", "--http2", "--cacert", self.args.ca,
                                "-H", f"Authorization: Bearer {token}",
                                "-o", "/dev/null", "-w", "%{http_version} %{http_code} %{content_type}",
                                f"{self.base}/healthz"], capture_output=True, text=True, timeout=30)
            ok = p.returncode == 0 and p.stdout.startswith("2 200 application/json")
            return ok, f"HTTP/{p.stdout} {p.stderr.strip()}"

        @r.run("HTTP/2 request: pulsegate gets HTTP/1.1, Host with the port")
        def _():
            heads = self.relay.find(token)
            if len(heads) != 1:
                return False, f"{len(heads)} requests carried the token"
            ok, detail = expect_headers(heads[0], {"Host": self.host, "X-Forwarded-Proto": "https",
                                                   "Authorization": f"Bearer {token}"})
            return ok and heads[0].startswith("GET /healthz HTTP/1.1\r\n"), detail

        metric = "tls_check_ingest_" + os.urandom(4).hex()
        ts = int(time.time() * 1000)
        value = 42.5

        @r.run("POST /ingest (JSON)")
        def _():
            body = json.dumps({"samples": [{"metric": metric, "labels": {"via": "nginx"}, "ts": ts, "value": value}]})
            status, _, answer, _ = self.https("POST", "/ingest", body=body.encode(),
                                              headers={"Content-Type": "application/json"})
            return status == 200 and json.loads(answer) == {"accepted": 1}, f"{status} {answer.decode()}"

        @r.run("GET /history returns the pushed sample")
        def _():
            query = urllib.parse.urlencode({"metric": metric, "from": ts - 60000, "to": ts + 60000})
            status, _, body, _ = self.https("GET", f"/history?{query}")
            doc = json.loads(body)
            series = doc.get("series", [])
            ok = status == 200 and len(series) == 1 and series[0].get("labels") == {"via": "nginx"} \
                and series[0].get("points") == [[ts, value]]
            return ok, f"{status} {body.decode()[:120]}"

        @r.run("a 400 from pulsegate comes through as JSON")
        def _():
            status, headers, body, _ = self.https("GET", "/history")
            return status == 400 and "error" in json.loads(body), f"{status} {body.decode()[:100]}"

        def post_size(size):
            prefix = json.dumps({"samples": [{"metric": metric + "_big", "value": 1}]}).encode()
            body = prefix + b" " * (size - len(prefix))  # JSON allows trailing white space
            conn = http.client.HTTPSConnection("localhost", self.port, context=self.context(), timeout=60)
            try:
                try:
                    conn.request("POST", "/ingest", body=body, headers={"Content-Type": "application/json"})
                except (BrokenPipeError, ConnectionResetError):
                    pass  # nginx may answer 413 before it has read the whole body
                resp = conn.getresponse()
                return resp.status, resp.read()
            finally:
                conn.close()

        @r.run(f"POST /ingest of exactly {MAX_BODY} bytes (the limit) accepted")
        def _():
            status, body = post_size(MAX_BODY)
            return status == 200, f"{status} {body.decode(errors='replace')[:80]}"

        @r.run(f"POST /ingest of {MAX_BODY + 1} bytes refused by nginx (413)")
        def _():
            status, body = post_size(MAX_BODY + 1)
            text = " ".join(re.sub("<[^>]+>", " ", body.decode(errors="replace")).split())
            return status == 413 and "nginx" in text, f"{status} {text[:80]}"

        token = "tls-check-http-" + os.urandom(6).hex()

        @r.run("headers pulsegate gets (HTTP)")
        def _():
            status, _, _, _ = self.https("GET", "/healthz", headers={
                "Authorization": f"Bearer {token}", "Origin": self.origin,
                "X-Forwarded-For": "203.0.113.7"})
            heads = self.relay.find(token)
            if status != 200 or len(heads) != 1:
                return False, f"{status}, {len(heads)} requests carried the token"
            _, headers = parse_head(heads[0])
            if "upgrade" in headers:
                return False, f"Upgrade passed on a plain request: {headers['upgrade']}"
            return expect_headers(heads[0], {
                "Host": self.host, "X-Forwarded-Proto": "https",
                "X-Forwarded-For": "203.0.113.7, 127.0.0.1", "X-Real-IP": "127.0.0.1",
                "Authorization": f"Bearer {token}", "Origin": self.origin, "Connection": "close"})

    # ------------------------------------------------------------ WebSocket

    def websocket(self):
        r = self.report
        r.heading("wss")
        token = "tls-check-ws-" + os.urandom(6).hex()
        key = base64.b64encode(os.urandom(16)).decode()
        ws = None

        @r.run("TLS connection for the WebSocket (ALPN http/1.1)")
        def _():
            nonlocal ws
            raw = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            ws = WebSocket(self.context(("http/1.1",)).wrap_socket(raw, server_hostname="localhost"))
            return ws.sock.selected_alpn_protocol() in ("http/1.1", None), \
                f"{ws.sock.version()} {ws.sock.cipher()[0]}, ALPN {ws.sock.selected_alpn_protocol()}"

        if ws is None:
            return

        @r.run("upgrade: 101, Upgrade: websocket, Sec-WebSocket-Accept right")
        def _():
            status, headers = ws.handshake("/ws/metrics", {
                "Host": self.host, "Origin": self.origin, "Authorization": f"Bearer {token}",
                "Sec-WebSocket-Key": key})
            accept = accept_for(key)
            ok = status.startswith("HTTP/1.1 101") and headers.get("upgrade", "").lower() == "websocket" \
                and "upgrade" in headers.get("connection", "").lower() and headers.get("sec-websocket-accept") == accept
            return ok, f"{status}; Sec-WebSocket-Accept {headers.get('sec-websocket-accept')} (expected {accept})"

        if not ws.open:
            ws.close()
            return

        @r.run("headers pulsegate gets (upgrade)")
        def _():
            heads = self.relay.find(token)
            if len(heads) != 1:
                return False, f"{len(heads)} requests carried the token"
            return expect_headers(heads[0], {
                "Host": self.host, "Upgrade": "websocket", "Connection": "upgrade",
                "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13",
                "Origin": self.origin, "Authorization": f"Bearer {token}",
                "X-Forwarded-Proto": "https", "X-Forwarded-For": "127.0.0.1"})

        frames = []  # (type, seq) of every frame read

        @r.run("first frame is hello")
        def _():
            opcode, payload = ws.recv(timeout=10)
            doc = json.loads(payload)
            frames.append((doc.get("type"), doc.get("seq")))
            ok = opcode == 0x1 and doc.get("type") == "hello" and isinstance(doc.get("seq"), int) and doc.get("instance")
            return ok, payload.decode()[:120]

        def until(predicate, timeout, what):
            """Reads frames until predicate(doc) holds; pings are answered by WebSocket.recv."""
            deadline = time.monotonic() + timeout
            seen = 0
            while time.monotonic() < deadline:
                opcode, payload = ws.recv(timeout=max(0.1, deadline - time.monotonic()))
                if opcode is None:
                    break
                if opcode != 0x1:
                    continue
                doc = json.loads(payload)
                seen += 1
                frames.append((doc.get("type"), doc.get("seq")))
                if predicate(doc):
                    return True, doc, seen
            return False, f"no {what} in {timeout} s ({seen} frames)", seen

        @r.run("live samples frames from the collector")
        def _():
            ok, doc, seen = until(lambda d: d.get("type") == "samples" and any(
                s.get("metric", "").startswith("host_") for s in d.get("samples", [])), 10, "collector samples")
            if not ok:
                return False, doc
            ok2, doc2, _ = until(lambda d: d.get("type") == "samples", 5, "second samples frame")
            return ok2, f"seq {doc['seq']} then {doc2['seq'] if ok2 else doc2}, {len(doc['samples'])} samples"

        metric = "tls_check_live_" + os.urandom(4).hex()

        def push(value):
            body = json.dumps({"samples": [{"metric": metric, "value": value}]}).encode()
            status, _, answer, _ = self.https("POST", "/ingest", body=body, headers={"Content-Type": "application/json"})
            if status != 200:
                raise RuntimeError(f"push answered {status} {answer!r}")

        def has(value):
            return lambda d: d.get("type") == "samples" and any(
                s.get("metric") == metric and s.get("value") == value for s in d.get("samples", []))

        @r.run("a sample pushed over HTTPS arrives on the stream")
        def _():
            push(1.25)
            ok, doc, _ = until(has(1.25), 10, f"{metric}=1.25")
            return ok, f"seq {doc['seq']}" if ok else doc

        @r.run("client message: subscribe answered by subscribed")
        def _():
            ws.send(0x1, json.dumps({"type": "subscribe", "metrics": [metric]}).encode())
            ok, doc, _ = until(lambda d: d.get("type") == "subscribed", 10, "subscribed frame")
            return ok, json.dumps(doc)[:120] if ok else doc

        @r.run("client ping answered by pong")
        def _():
            payload = os.urandom(8)
            ws.send(0x9, payload)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                opcode, data = ws.recv(timeout=max(0.1, deadline - time.monotonic()))
                if opcode == 0xA and data == payload:
                    return True, "pong with the same payload"
                if opcode is None:
                    break
            return False, "no pong in 10 s"

        @r.run("server pings (every 2 s here) reach the client, pongs go back")
        def _():
            deadline = time.monotonic() + 8
            while time.monotonic() < deadline and ws.pings < 2:
                ws.recv(timeout=max(0.1, deadline - time.monotonic()))
            return ws.pings >= 2, f"{ws.pings} pings answered"

        @r.run("after the pings, the subscription still streams")
        def _():
            push(2.5)
            ok, doc, _ = until(has(2.5), 10, f"{metric}=2.5")
            if not ok:
                return False, doc
            others = [s["metric"] for s in doc["samples"] if s["metric"] != metric]
            return not others, f"seq {doc['seq']}" + (f"; unsubscribed metrics: {others[:3]}" if others else "")

        @r.run("seq never goes back, strictly increasing over samples frames")
        def _():
            seqs = [q for _, q in frames]
            samples = [q for t, q in frames if t == "samples"]
            ok = all(isinstance(q, int) for q in seqs) and all(a <= b for a, b in zip(seqs, seqs[1:])) \
                and all(a < b for a, b in zip(samples, samples[1:])) and len(samples) >= 3
            return ok, " ".join(f"{t}:{q}" for t, q in frames)

        @r.run("close handshake (1000)")
        def _():
            ws.send(0x8, (1000).to_bytes(2, "big"))
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                opcode, data = ws.recv(timeout=max(0.1, deadline - time.monotonic()))
                if opcode == 0x8:
                    code = close_code(data)
                    return code == 1000, f"close {code}"
                if opcode is None:
                    break
            return False, "no close frame in 10 s"

        ws.close()

    def uptime(self):
        r = self.report
        r.heading("uptime")

        @r.run("/healthz uptime_seconds through nginx: the time since pulsegate was started")
        def _():
            # Asked 3 s after the start at the earliest: below a second, a slip between
            # seconds and their fraction (the old bug) would still give the right figure.
            time.sleep(max(0.0, 3 - (time.monotonic() - self.server.ready_at)))
            asked = time.monotonic()
            status, _, body, _ = self.https("GET", "/healthz")
            return judge_uptime(self.server, json.loads(body).get("uptime_seconds"), asked, time.monotonic())

    def nginx_log(self):
        r = self.report
        r.heading("nginx")

        @r.run("error log: no unexpected errors")
        def _():
            with open(self.args.nginx_error_log, errors="replace") as f:
                lines = f.read().splitlines()
            # Expected: the 413 above.
            bad = [l for l in lines if re.search(r"\[(error|crit|alert|emerg)\]", l)
                   and "client intended to send too large body" not in l]
            # Warnings, each once, without the time, pid and connection number.
            warn = sorted({re.sub(r"^.*?\[warn\] [0-9#]+: (\*[0-9]+ )?", "", l).split(",")[0]
                           for l in lines if "[warn]" in l})
            return not bad, (bad[0] if bad else f"{len(lines)} lines; warnings: {'; '.join(warn) or 'none'}")


# ---------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", required=True, help="the pulsegate to start")
    parser.add_argument("--scratch", required=True, help="the wrapper's scratch directory (pulsegate's database and log go there)")
    parser.add_argument("--ca", required=True, help="the throwaway CA's certificate (the only trust root)")
    parser.add_argument("--tls-port", type=int, required=True, help="nginx's TLS port")
    parser.add_argument("--http-port", type=int, required=True, help="nginx's plain HTTP (redirect) port")
    parser.add_argument("--relay-port", type=int, required=True, help="where nginx's upstream points")
    parser.add_argument("--nginx-error-log", required=True)
    parser.add_argument("--ipv6", action="store_true", help="nginx listens on [::1] too")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    report = Report("tls-check")
    # The collector publishes every second; pings every 2 s instead of 15 so that the
    # check sees one pass through nginx in a few seconds.
    server = Pulsegate(args.binary, os.path.join(args.scratch, "pulsegate"), "--collect-interval", "1s",
                       "--ping-interval", "2s", pids_file=os.path.join(args.scratch, "pids"))
    relay = None
    try:
        report.heading("pulsegate")
        if not report.started(server):
            return report.finish()
        relay = Relay(server.port, port=args.relay_port)
        checks = Checks(args, report, relay, server)
        for part in (checks.tls, checks.http, checks.websocket, checks.uptime, checks.nginx_log):
            part()
        code = server.stop()
        report.heading("end")
        report.check("pulsegate stopped cleanly on SIGTERM", code == 0, f"exit status {code}")
    finally:
        if relay is not None:
            relay.shutdown()
        server.stop()
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
