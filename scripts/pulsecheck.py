"""What Pulsegate's Python checks share (scripts/api_check.py, prometheus_check.py, remote_write_check.py,
tls_check.py, tests/browser/): the pulsegate process, a minimal WebSocket client, a
byte relay, small HTTP helpers, a Prometheus API client, the server's own figures read from /proc,
and the report.

Python 3 standard library only, so that every check can import it before anything is
installed. The checks import it from scripts/ (the browser check's conftest puts that
directory on sys.path).
"""

import base64
import hashlib
import json
import math
import os
import re
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_BINARY = os.path.join(ROOT, ".build", "debug", "pulsegate")
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


# ---------------------------------------------------------------- HTTP

class Answer:
    """An HTTP answer: status, headers (an email.message.Message), body bytes."""

    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


def http(method, url, body=None, headers=None, timeout=10):
    """An HTTP error status is an answer, not an exception."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return Answer(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        return Answer(e.code, e.headers, e.read())


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SAMPLE_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$")
LABEL_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """Prometheus text -> {(name, ((label, value), ...)): value}, labels sorted."""
    values = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_LINE.match(line)
        if m:
            labels = tuple(sorted(LABEL_PAIR.findall(m.group(2) or "")))
            values[(m.group(1), labels)] = float(m.group(3))
    return values


def metric_value(values, name, **labels):
    """The value of one series of parse_metrics' result; None when absent."""
    return values.get((name, tuple(sorted(labels.items()))))


# ---------------------------------------------------------------- Prometheus

class Prometheus:
    """A Prometheus's HTTP API, for the checks that start one."""

    def __init__(self, base):
        self.base = base

    def api(self, path, **params):
        url = f"{self.base}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        data = http("GET", url, timeout=30).json()
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

    def raw(self, selector, start, end):
        """{(name, labels): [(ts_ms, value)]}: every raw sample of `selector` in (start, end) (seconds)."""
        seconds = max(1, math.ceil(end - start))
        result = self.api("query", query=f"{selector}[{seconds}s]", time=f"{end:.3f}")["result"]
        series = {}
        for entry in result:
            labels = dict(entry["metric"])
            name = labels.pop("__name__")
            points = [(round(float(t) * 1000), float(v)) for t, v in entry["values"] if start < float(t) < end]
            series[(name, tuple(sorted(labels.items())))] = points
        return series


def wait_for(predicate, timeout, interval=0.5):
    """predicate()'s first true value within `timeout` seconds (errors count as not yet), else None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (OSError, ValueError, RuntimeError, KeyError):
            pass
        time.sleep(interval)
    return None


def start_process(command, log_path, pids):
    """A peer process (Prometheus, vmagent, Pushgateway) logging to `log_path`; its pid
    goes to the `pids` list, which the wrapper's trap reads."""
    log = open(log_path, "wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    with open(pids, "a") as f:
        f.write(f"{process.pid}\n")
    return process


def stop_process(process):
    """SIGTERM, then SIGKILL after 30 s."""
    if process is not None and process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def tail(path, lines=20):
    """The last lines of a log file ("" when it cannot be read)."""
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


# ---------------------------------------------------------------- the process

class Pulsegate:
    """One pulsegate process on a loopback port, with its log in `directory`.
    start() again after stop() keeps the port and the database. Every pid goes to
    `pids_file` (when given), so that a shell wrapper's trap can end what a crashed
    check leaves behind."""

    def __init__(self, binary, directory, *args, env=None, db=None, pids_file=None):
        self.binary = binary
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.db = db or os.path.join(directory, "db.sqlite")
        self.args = list(args)
        self.env = {**os.environ, **(env or {})}
        self.pids_file = pids_file
        self.port = 0
        self.process = None
        self.starts = 0
        self.log_path = None
        self.launched_at = None  # time.monotonic() just before the exec
        self.ready_at = None  # time.monotonic() when /healthz first answered

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self):
        return self.process.pid if self.process else None

    def running(self):
        return self.process is not None and self.process.poll() is None

    def start(self, *extra, timeout=60):
        """Starts it (port 0 the first time: any free port, read from the log) and waits
        until /healthz answers 200. The deadline is generous: the machine may be loaded."""
        self.starts += 1
        self.log_path = os.path.join(self.dir, f"pulsegate-{self.starts}.log")
        command = [self.binary, "--port", str(self.port), "--db", self.db, *self.args, *extra]
        with open(self.log_path, "wb") as out:
            self.launched_at = time.monotonic()
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=self.env)
        if self.pids_file:
            with open(self.pids_file, "a") as f:
                f.write(f"{self.process.pid}\n")
        deadline = time.monotonic() + timeout
        port = None
        while time.monotonic() < deadline and self.process.poll() is None:
            if port is None:
                m = re.search(r"listening on 127\.0\.0\.1:(\d+)", self.log())
                port = int(m.group(1)) if m else None
            if port is not None:
                self.port = port
                try:
                    if http("GET", self.base + "/healthz", timeout=5).status == 200:
                        self.ready_at = time.monotonic()
                        return self
                except OSError:
                    pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"pulsegate did not start ({' '.join(command)}):\n{self.log_tail()}")

    def stop(self, timeout=30):
        """SIGTERM, as a service manager would, and waits; SIGKILL only if it does not end.
        Returns the exit status (None if it was not running)."""
        if self.process is None:
            return None
        p, self.process = self.process, None
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                print(f"pulsegate {p.pid} did not stop on SIGTERM in {timeout} s; killing it", file=sys.stderr)
                p.kill()
                p.wait()
        return p.returncode

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except (OSError, TypeError):
            return ""

    def log_tail(self, lines=40):
        return "".join(self.log().splitlines(keepends=True)[-lines:])

    # -------------------------------------------------------- its HTTP

    def get(self, path, timeout=10):
        return http("GET", self.base + path, timeout=timeout)

    def get_json(self, path):
        answer = self.get(path)
        assert answer.status == 200, f"GET {path}: {answer.status} {answer.body[:200]!r}"
        return answer.json()

    def ingest(self, samples, token=None):
        """POSTs samples as JSON; returns the number accepted (a non-200 is an AssertionError)."""
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        answer = http("POST", self.base + "/ingest", json.dumps({"samples": samples}).encode(), headers)
        assert answer.status == 200, f"POST /ingest: {answer.status} {answer.body[:300]!r}"
        return answer.json()["accepted"]

    def metrics(self):
        """/metrics parsed (parse_metrics)."""
        answer = self.get("/metrics")
        assert answer.status == 200, f"GET /metrics: {answer.status}"
        return parse_metrics(answer.body.decode())

    def metric(self, name, **labels):
        value = metric_value(self.metrics(), name, **labels)
        assert value is not None, f"{name}{labels or ''} is not in /metrics"
        return value


def judge_uptime(server, uptime, asked_at, answered_at, slack=0.25):
    """(ok, detail): /healthz's uptime_seconds, asked at monotonic `asked_at` and answered
    by `answered_at`, against the check's own clock. The server started its clock after
    the exec and before /healthz first answered, so the uptime lies between the time since
    that first answer (when asked) and the time since the exec (when answered); `slack`
    covers the rounding to ms and the two clocks' reading. No bound depends on how fast the
    machine is: a slow start widens the interval, it does not move the figure out of it.
    Ask a few seconds after the start: below 1 s, mixing up seconds and their fraction
    still gives the right figure."""
    low = asked_at - server.ready_at - slack
    high = answered_at - server.launched_at + slack
    ok = isinstance(uptime, (int, float)) and low <= uptime <= high
    return ok, f"uptime_seconds {uptime}, expected {max(0.0, low):.2f}..{high:.2f} (the check's clock since the start)"


# ---------------------------------------------------------------- /proc

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def boot_time():
    """/proc/stat's btime: seconds since the epoch."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("btime "):
                return float(line.split()[1])
    raise RuntimeError("no btime in /proc/stat")


class ProcFigures:
    """A process's figures as Prometheus's process_* metrics define them, read by the
    check from /proc/<pid> (independently of the server's own reading)."""

    def __init__(self, pid):
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # After the name: field 3 is fields[0]; utime 14, stime 15, starttime 22.
        self.cpu_seconds = (int(fields[11]) + int(fields[12])) / CLK_TCK
        self.start_time = boot_time() + int(fields[19]) / CLK_TCK
        with open(f"/proc/{pid}/statm") as f:
            pages = f.read().split()
        self.virtual_bytes = int(pages[0]) * PAGE_SIZE
        self.resident_bytes = int(pages[1]) * PAGE_SIZE
        self.open_fds = len(os.listdir(f"/proc/{pid}/fd"))
        self.max_fds = None
        with open(f"/proc/{pid}/limits") as f:
            for line in f:
                if line.startswith("Max open files"):
                    soft = line[len("Max open files"):].split()[0]
                    self.max_fds = None if soft == "unlimited" else int(soft)


def judge_process_figures(values, before, after):
    """[(name, ok, detail)]: the process_* values of one /metrics scrape against the
    server's /proc read just `before` and `after` it. CPU time only grows: it lies
    between the two. Memory and descriptors move with the traffic: within the two reads
    and a margin far below any unit slip (pages for bytes, KiB for bytes). Start time and
    the descriptor limit do not move."""
    def get(name):
        return metric_value(values, name)

    def within(name, value, low, high, unit=""):
        ok = value is not None and low <= value <= high
        f = (lambda v: f"{v:.3f}") if unit else (lambda v: f"{v:.0f}")
        return name, ok, f"{f(value)}{unit} in /metrics; from /proc, expected {f(low)}..{f(high)}{unit}" \
            if value is not None else "not in /metrics"

    def around(name, a, b, margin_fraction, margin_abs):
        low, high = min(a, b), max(a, b)
        margin = max(margin_abs, high * margin_fraction)
        return within(name, get(name), low - margin, high + margin)

    rows = [
        within("process_cpu_seconds_total", get("process_cpu_seconds_total"),
               before.cpu_seconds - 0.005, after.cpu_seconds + 0.005, " s"),
        around("process_resident_memory_bytes", before.resident_bytes, after.resident_bytes, 0.10, 8 << 20),
        around("process_virtual_memory_bytes", before.virtual_bytes, after.virtual_bytes, 0.05, 64 << 20),
        around("process_open_fds", before.open_fds, after.open_fds, 0, 4),
        within("process_start_time_seconds", get("process_start_time_seconds"),
               before.start_time - 1, before.start_time + 1, " s"),
    ]
    max_fds = get("process_max_fds")
    rows.append(("process_max_fds", max_fds == before.max_fds,
                 f"{max_fds} in /metrics; /proc/<pid>/limits soft limit {before.max_fds}"))
    return rows


def database_bytes(db):
    """The database file plus its write-ahead log, as they are on disk now."""
    total = 0
    for path in (db, db + "-wal"):
        try:
            total += os.stat(path).st_size
        except FileNotFoundError:
            pass
    return total


def judge_database_bytes(server, attempts=30):
    """(ok, detail): pulsegate_store_database_bytes against the files' sizes read just
    before and after the scrape. The writer commits every second, so a scrape between two
    reads that differ proves nothing: tried again until the sizes hold still across one."""
    seen = []
    for _ in range(attempts):
        before = database_bytes(server.db)
        value = metric_value(server.metrics(), "pulsegate_store_database_bytes")
        after = database_bytes(server.db)
        if before == after:
            if value == before:
                return True, f"{value:.0f} bytes = db + wal on disk"
            seen.append(f"{value} vs {before}")
        time.sleep(0.1)
    return False, f"never equal to db + wal on disk (metric vs files, when still: {', '.join(seen[-5:]) or 'files never still'})"


# ---------------------------------------------------------------- WebSocket

class HandshakeError(RuntimeError):
    pass


class WebSocket:
    """A minimal RFC 6455 client over a connected socket (plain or TLS): the handshake,
    masked client frames, and reading text, binary, ping, pong and close frames with a
    timeout. Pings are answered (and counted) as they are read."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""
        self.open = False
        self.pings = 0

    @classmethod
    def connect(cls, port, path="/ws/metrics", host="127.0.0.1", headers=None, ssl_context=None,
                server_hostname=None, timeout=10):
        """Connected and upgraded; HandshakeError unless the answer is 101 with the right accept."""
        raw = socket.create_connection((host, port), timeout=timeout)
        sock = ssl_context.wrap_socket(raw, server_hostname=server_hostname or host) if ssl_context else raw
        ws = cls(sock)
        key = base64.b64encode(os.urandom(16)).decode()
        status, fields = ws.handshake(path, {"Host": f"{host}:{port}", **(headers or {}), "Sec-WebSocket-Key": key})
        if not ws.open:
            ws.close()
            raise HandshakeError(f"upgrade answered {status!r}")
        if fields.get("sec-websocket-accept") != accept_for(key):
            ws.close()
            raise HandshakeError("wrong Sec-WebSocket-Accept")
        return ws

    def handshake(self, path, headers):
        """Sends the upgrade; (status line, {lower-case name: last value}). `headers`
        must hold Host and Sec-WebSocket-Key."""
        lines = [f"GET {path} HTTP/1.1", "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        deadline = time.monotonic() + 30
        while b"\r\n\r\n" not in self.buffer:
            self.sock.settimeout(max(0.1, deadline - time.monotonic()))
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError("connection closed during the handshake")
            self.buffer += chunk
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status, *rest = head.decode("latin-1").split("\r\n")
        fields = {}
        for line in rest:
            if ":" in line:
                name, value = line.split(":", 1)
                fields[name.strip().lower()] = value.strip()
        self.open = status.startswith("HTTP/1.1 101")
        return status, fields

    def _read(self, n, deadline):
        while len(self.buffer) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise TimeoutError
            if not chunk:
                raise EOFError("connection closed by the server")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def recv(self, timeout):
        """(opcode, payload) of the next message, fragments joined, pings answered;
        (None, None) when none began in time. A frame begun is read whole."""
        deadline = time.monotonic() + timeout
        message, first = b"", None
        while True:
            try:
                b0, b1 = self._read(2, deadline)
            except TimeoutError:
                return None, None
            rest = max(deadline, time.monotonic() + 10)  # for the rest of this frame only
            fin, opcode, n = b0 & 0x80, b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = int.from_bytes(self._read(2, rest), "big")
            elif n == 127:
                n = int.from_bytes(self._read(8, rest), "big")
            if b1 & 0x80:
                raise RuntimeError("the server sent a masked frame")
            payload = self._read(n, rest)
            if opcode == 0x9:
                self.pings += 1
                self.send(0xA, payload)
                continue
            if opcode >= 0x8:
                return opcode, payload
            if first is None:
                first = opcode
            message += payload
            if fin:
                return first, message

    def send(self, opcode, payload=b""):
        mask = os.urandom(4)
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + n.to_bytes(2, "big")
        else:
            header += bytes([0x80 | 127]) + n.to_bytes(8, "big")
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def close(self, code=None):
        """Closes the socket, after a close frame with `code` when given."""
        try:
            if code is not None:
                self.send(0x8, code.to_bytes(2, "big"))
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass


def accept_for(key):
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


def close_code(payload):
    return int.from_bytes(payload[:2], "big") if payload and len(payload) >= 2 else None


# ---------------------------------------------------------------- relay

class Relay(socketserver.ThreadingTCPServer):
    """A byte-for-byte TCP relay to 127.0.0.1:target_port that keeps the request head of
    each connection as the target gets it (find), and can stop passing the target's bytes
    back on the connections whose head holds a string (hold/release): a client that
    stops reading, as far as the target can tell; it counts the bytes the target sent
    back (bytes_back). `upstream_buffer` shrinks the relay's
    receive buffer and segment size towards the target, so that a held connection fills
    the target's socket buffer far sooner than loopback TCP's megabytes would allow."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, target_port, port=0, upstream_buffer=None):
        self.target = ("127.0.0.1", target_port)
        self.upstream_buffer = upstream_buffer
        self.heads = []
        self.lock = threading.Condition()
        self.held = None
        self.bytes_back = 0  # what the target sent, over every connection
        super().__init__(("127.0.0.1", port), _RelayHandler)
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def find(self, needle):
        """The request heads holding needle (a token only one request carries)."""
        with self.lock:
            return [h for h in self.heads if needle in h]

    def hold(self, needle):
        with self.lock:
            self.held = needle

    def release(self):
        with self.lock:
            self.held = None
            self.lock.notify_all()

    def _wait_unless_held(self, handler):
        with self.lock:
            while self.held is not None and handler.head is not None and self.held in handler.head:
                self.lock.wait(0.5)


class _RelayHandler(socketserver.BaseRequestHandler):
    def handle(self):
        self.head = None
        upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if self.server.upstream_buffer:
            upstream.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.server.upstream_buffer)
            upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
        upstream.settimeout(30)
        upstream.connect(self.server.target)
        back = threading.Thread(target=self._pump, args=(upstream, self.request, False), daemon=True)
        back.start()
        self._pump(self.request, upstream, True)
        back.join()
        upstream.close()

    def _pump(self, src, dst, request_side):
        src.settimeout(None)
        head = bytearray() if request_side else None
        try:
            while True:
                if not request_side:
                    self.server._wait_unless_held(self)
                data = src.recv(16384 if request_side else 2048)
                if not data:
                    break
                if head is not None:
                    head += data
                    end = head.find(b"\r\n\r\n")
                    if end >= 0 or len(head) > 65536:
                        text = bytes(head[:end if end >= 0 else None]).decode("latin-1")
                        with self.server.lock:
                            self.head = text
                            self.server.heads.append(text)
                        head = None
                dst.sendall(data)
                if not request_side:
                    with self.server.lock:
                        self.server.bytes_back += len(data)
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass


# ---------------------------------------------------------------- report

class Report:
    """The checks' results: each printed as it is made, then a table of all of them and
    the closing line `N passed, M failed`, alone on its line. finish() is the exit code:
    0 only when something was checked and nothing failed."""

    def __init__(self, name):
        self.name = name
        self.rows = []  # (section, check, ok, detail)
        self.section = ""

    def heading(self, section, title=None):
        """Checks from here on belong to `section` (a short name, for the table); `title`
        is printed instead when given."""
        self.section = section
        print(f"\n== {title or section}", flush=True)

    def check(self, name, ok, detail=""):
        detail = " ".join(str(detail).split())
        self.rows.append((self.section, name, bool(ok), detail))
        shown = detail if len(detail) <= 300 else detail[:297] + "..."
        print(f"  {'pass' if ok else 'FAIL'}  {name}: {shown}", flush=True)
        return bool(ok)

    def started(self, server):
        """Starts `server` as the check "pulsegate started"; False (and the failure
        reported) when it does not come up, so that the caller can finish at once."""
        try:
            server.start()
        except RuntimeError as e:
            return self.check("pulsegate started", False, e)
        return self.check("pulsegate started", True, f"{server.binary} on {server.base}, pid {server.pid}")

    def run(self, name):
        """Decorator: runs the function as one check; it returns (ok, detail), and an
        exception fails the check with the exception as its detail."""
        def wrap(fn):
            try:
                ok, detail = fn()
            except Exception as e:  # a failed check, reported as such
                ok, detail = False, f"{type(e).__name__}: {e}"
            return self.check(name, ok, detail)
        return wrap

    @property
    def failed(self):
        return sum(1 for r in self.rows if not r[2])

    def finish(self):
        headers = ("section", "check", "result", "detail")
        rows = [(s, c, "pass" if ok else "FAIL", d if len(d) <= 120 else d[:117] + "...") for s, c, ok, d in self.rows]
        widths = [max(len(r[i]) for r in [headers] + rows) for i in range(3)]
        print(f"\n== {self.name}: every check")
        for r in [headers] + rows:
            print("  ".join([r[i].ljust(widths[i]) for i in range(3)] + [r[3]]).rstrip())
        failed = self.failed
        print(f"\n{len(self.rows) - failed} passed, {failed} failed", flush=True)
        return 0 if failed == 0 and self.rows else 1
