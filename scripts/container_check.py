#!/usr/bin/env python3
"""Builds the repository's Dockerfile with podman and checks the image by running it.

Run by scripts/container-check, which installs podman, runc, debootstrap and systemd.
No registry and no Docker engine: the run image is Debian bookworm made by debootstrap
(minbase, like debian:bookworm-slim), the builder that image plus the build packages,
with the machine's Swift toolchain and Swift package mirror bind-mounted read-only into
the build. Both are cached under .build/container-check/, keyed by the day and by what
goes into them, so a second run goes straight to the build. Podman gets a scratch
storage root (unless --storage), runc, and ulimits the machine allows, through a
containers.conf in the scratch directory (CONTAINERS_CONF).

Checks: the image's configuration (non-root user, /data volume, port, HEALTHCHECK,
listening on 0.0.0.0); the dashboard and its Plotly inside; the binary's libraries;
without tokens it refuses to start; with tokens /openapi.json (compiled into the binary)
is served without one, equal to the source file, a request without one gets 401 and one
with it is served; with PULSEGATE_TRUSTED_NETWORK=1 on a named volume: /healthz from
outside through the published loopback port, `podman healthcheck run` healthy (and
unhealthy in a container where nothing listens), a push to /ingest read back from
/history with the same value, PID 1 is pulsegate running as the non-root uid, `podman
stop` (SIGTERM) ends it with status 0 quickly, and a second container on the same volume
finds the sample. Then deploy/systemd/pulsegate.service through `systemd-analyze verify`
(with ExecStart pointed at the binary taken out of the image) and its exposure score.

    scripts/container-check                          # everything
    scripts/container-check --storage DIR            # keep podman's storage in DIR (layer cache)
    scripts/container-check --storage DIR --image N  # check image N already in DIR, no build
"""

import argparse
import datetime
import hashlib
import json
import os
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
CACHE = os.path.join(REPO, ".build", "container-check")
SUITE = "bookworm"
# What the toolchain needs beside itself to build the package (found by trying: the
# compiler driver links with binutils against glibc's and GCC's headers and libraries;
# swift-build needs git for the package mirror and pkg-config for the system libraries).
BUILD_PACKAGES = [
    "binutils", "git", "pkg-config", "libc6-dev", "libgcc-12-dev", "libstdc++-12-dev",
    "libcurl4", "libxml2", "libncurses6", "libsqlite3-dev", "zlib1g-dev", "libsnappy-dev",
]
UID = 10001  # the Dockerfile's pulsegate user
STOP_TIMEOUT = 60  # podman stop's grace before SIGKILL
STOP_QUICKLY = 20  # what counts as a clean, prompt stop (Pulsegate's own limit is 10 s)
START_DEADLINE = 180  # a loaded machine may take long to start a container; never a fixed sleep


class Interrupted(Exception):
    pass


def on_signal(signum, _frame):
    raise Interrupted(f"signal {signum}")


class Podman:
    """podman with this check's storage, runtime and containers.conf."""

    def __init__(self, scratch, storage, runroot):
        self.conf = os.path.join(scratch, "containers.conf")
        # The defaults ask for more than this machine's hard limits (runc then fails with
        # "error setting rlimits"): the hard limits, and no more processes than pid_max,
        # above which runc's setrlimit is refused here too.
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
        with open("/proc/sys/kernel/pid_max") as f:
            pid_max = int(f.read())
        nproc = pid_max if nproc == resource.RLIM_INFINITY else min(nproc, pid_max)
        nofile = 1048576 if nofile == resource.RLIM_INFINITY else nofile
        with open(self.conf, "w") as f:
            f.write("[containers]\n")
            f.write(f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n')
            f.write("[engine]\n")
            f.write('runtime = "runc"\n')  # crun fails on this kind of machine's cgroups
            f.write('events_logger = "file"\n')
            f.write('cgroup_manager = "cgroupfs"\n')  # no systemd to ask
        self.storage = storage
        self.runroot = runroot
        self.env = dict(os.environ, CONTAINERS_CONF=self.conf)
        self.current = None  # the running podman, to stop it on a signal

    def argv(self, *args):
        return ["podman", "--root", self.storage, "--runroot", self.runroot, *args]

    def run(self, *args, check=True, timeout=600, stdin=None, log=None):
        """Runs podman; returns (status, stdout, stderr) or, with log, writes both there."""
        out = open(log, "ab") if log else subprocess.PIPE
        try:
            self.current = subprocess.Popen(
                self.argv(*args), env=self.env, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT if log else subprocess.PIPE,
            )
            stdout, stderr = self.current.communicate(timeout=timeout)
            status = self.current.returncode
        finally:
            if self.current and self.current.poll() is None:
                self.current.kill()
                self.current.wait()
            self.current = None
            if log:
                out.close()
        stdout = (stdout or b"").decode(errors="replace")
        # Without systemd, podman says on every run of an image with a HEALTHCHECK that it
        # cannot add the timer (podman healthcheck run is the way here): not news.
        stderr = "".join(line for line in (stderr or b"").decode(errors="replace").splitlines(True)
                         if "unable to get systemd connection" not in line)
        if check and status != 0:
            where = f" (log: {log})" if log else f": {stderr.strip()[-2000:]}"
            raise RuntimeError(f"podman {' '.join(args[:2])} failed with {status}{where}")
        return status, stdout, stderr

    def inspect(self, kind, name, template):
        return self.run(kind, "inspect", "--format", template, name)[1].strip()


def log(message):
    print(f"container-check: {message}", file=sys.stderr, flush=True)


def apt_mirror():
    """The Debian mirror this machine's apt uses for bookworm (deb822 or one-line form)."""
    paths = ["/etc/apt/sources.list"]
    folder = "/etc/apt/sources.list.d"
    if os.path.isdir(folder):
        paths += sorted(os.path.join(folder, n) for n in os.listdir(folder) if n.endswith((".list", ".sources")))
    for path in paths:
        if not os.path.isfile(path):
            continue
        text = open(path, errors="replace").read()
        if path.endswith(".sources"):
            for stanza in re.split(r"\n\s*\n", text):
                fields = {}
                for line in stanza.splitlines():
                    if line.startswith("#") or ":" not in line:
                        continue
                    key, value = line.split(":", 1)
                    fields[key.strip().lower()] = value.split()
                if "deb" in fields.get("types", []) and SUITE in fields.get("suites", []) \
                        and "no" not in fields.get("enabled", ["yes"]):
                    return fields["uris"][0]
        else:
            for line in text.splitlines():
                words = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
                if len(words) >= 3 and words[0] == "deb" and words[2] == SUITE:
                    return words[1]
    raise RuntimeError(f"no 'deb … {SUITE}' source in /etc/apt/sources.list or sources.list.d/ to debootstrap from")


def git_mirrors():
    """git's url.<base>.insteadOf rules (all levels), as (base, instead_of) pairs."""
    result = subprocess.run(["git", "config", "--get-regexp", r"^url\..*\.insteadof$"],
                            capture_output=True, text=True)
    rules = []
    for line in result.stdout.splitlines():
        key, _, value = line.partition(" ")
        base = key[len("url."):-len(".insteadof")]
        rules.append((base, value))
    return rules


def local_path(base):
    if base.startswith("file://"):
        base = base[len("file://"):]
    return base.rstrip("/") if base.startswith("/") else None


def key(*parts):
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def replace_cache(prefix, keep):
    """Leaves only `keep` of the cache files starting with prefix (yesterday's go)."""
    for name in os.listdir(CACHE):
        if name.startswith(prefix) and name != os.path.basename(keep):
            os.remove(os.path.join(CACHE, name))


def run_image(podman, scratch, timings):
    mirror = apt_mirror()
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    tarball = os.path.join(CACHE, f"run-{today}-{key(mirror, SUITE, 'minbase')}.tar")
    name = "localhost/pulsegate-check-run:" + os.path.basename(tarball)[4:-4]
    started = time.monotonic()
    if not os.path.exists(tarball):
        rootfs = os.path.join(scratch, "rootfs")
        log(f"debootstrap --variant=minbase {SUITE} from {mirror} (cached for today in {CACHE})")
        with open(os.path.join(scratch, "debootstrap.log"), "wb") as out:
            status = subprocess.run(["debootstrap", "--variant=minbase", SUITE, rootfs, mirror],
                                    stdout=out, stderr=subprocess.STDOUT).returncode
        if status != 0:
            raise RuntimeError(f"debootstrap failed with {status}: {tail(os.path.join(scratch, 'debootstrap.log'))}")
        # As in debian:bookworm-slim: no downloaded packages, no package lists (the
        # Dockerfile's apt-get update fetches them).
        for folder in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for entry in os.listdir(os.path.join(rootfs, folder)):
                path = os.path.join(rootfs, folder, entry)
                if os.path.isfile(path):
                    os.remove(path)
        subprocess.run(["tar", "-C", rootfs, "-cf", tarball + ".partial", "."], check=True)
        os.replace(tarball + ".partial", tarball)
        replace_cache("run-", tarball)
        shutil.rmtree(rootfs, ignore_errors=True)
    with open(tarball, "rb") as f:
        podman.run("import", "-", name, stdin=f)
    timings["run image"] = time.monotonic() - started
    return name, mirror


def builder_image(podman, scratch, base, toolchain, mirrors, timings):
    lines = [f"FROM {base}",
             "RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
             f"--no-install-recommends {' '.join(BUILD_PACKAGES)} >/dev/null && rm -rf /var/lib/apt/lists/*"]
    # The package mirror, as the machine's git finds it.
    for base_url, instead_of in mirrors:
        lines.append(f"RUN git config --system --add 'url.{base_url}.insteadOf' '{instead_of}'")
    lines.append(f"ENV PATH={toolchain}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    containerfile = "\n".join(lines) + "\n"
    tarball = os.path.join(CACHE, f"builder-{key(base, containerfile)}.tar")
    name = "localhost/pulsegate-check-builder:" + os.path.basename(tarball)[8:-4]
    started = time.monotonic()
    if os.path.exists(tarball):
        podman.run("load", "-i", tarball)
    else:
        folder = os.path.join(scratch, "builder")
        os.makedirs(folder)
        with open(os.path.join(folder, "Containerfile"), "w") as f:
            f.write(containerfile)
        log(f"builder image: {' '.join(BUILD_PACKAGES)}")
        podman.run("build", "--network", "host", "--format", "docker", "-t", name, folder,
                   log=os.path.join(scratch, "builder.log"))
        podman.run("save", "--format", "docker-archive", "-o", tarball + ".partial", name)
        os.replace(tarball + ".partial", tarball)
        replace_cache("builder-", tarball)
    timings["builder image"] = time.monotonic() - started
    return name


def tail(path, lines=40):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, headers=None, timeout=15):
    """(status, parsed JSON or text, headers); never raises for an HTTP status."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, data, answer_headers = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, data, answer_headers = error.code, error.read(), error.headers
    text = data.decode(errors="replace")
    try:
        return status, json.loads(text), answer_headers
    except ValueError:
        return status, text, answer_headers


class Check:
    def __init__(self):
        self.rows = []

    def record(self, name, ok, detail=""):
        self.rows.append((name, bool(ok), detail))
        print(f"  {'PASS' if ok else 'FAIL'}  {name}: {detail}", flush=True)
        return ok

    def table(self):
        width = max(len(name) for name, _, _ in self.rows)
        print()
        print(f"{'check'.ljust(width)}  result  detail")
        print(f"{'-' * width}  ------  ------")
        for name, ok, detail in self.rows:
            print(f"{name.ljust(width)}  {'pass' if ok else 'FAIL'}    {detail}")
        failed = sum(1 for _, ok, _ in self.rows if not ok)
        print(f"\n{len(self.rows) - failed} passed, {failed} failed")
        return failed


class Session:
    """The containers and volumes of one check, removed at the end whatever happens."""

    def __init__(self, podman, image):
        self.podman = podman
        self.image = image
        self.containers = []
        self.volumes = []
        self.suffix = secrets.token_hex(4)

    def volume(self, name):
        name = f"pulsegate-check-{name}-{self.suffix}"
        self.podman.run("volume", "create", name)
        self.volumes.append(name)
        return name

    def start(self, name, *options, publish=True, command=()):
        """Starts a detached container; returns (name, host port or None)."""
        name = f"pulsegate-check-{name}-{self.suffix}"
        port = free_port() if publish else None
        args = ["run", "-d", "--name", name]
        if port:
            args += ["-p", f"127.0.0.1:{port}:8080"]
        self.containers.append(name)
        self.podman.run(*args, *options, self.image, *command)
        return name, port

    def state(self, name):
        return json.loads(self.podman.inspect("container", name, "{{json .State}}"))

    def wait_served(self, name, port):
        """Waits for /healthz through the published port; (ok, detail)."""
        deadline = time.monotonic() + START_DEADLINE
        last = "no answer"
        while time.monotonic() < deadline:
            try:
                status, body, _ = http("GET", f"http://127.0.0.1:{port}/healthz", timeout=5)
                if status == 200:
                    return True, body
                last = f"status {status}"
            except (OSError, urllib.error.URLError) as error:
                last = str(error)
            state = self.state(name)
            if not state.get("Running"):
                return False, f"container exited with {state.get('ExitCode')}: {self.logs(name)[-800:]}"
            time.sleep(0.5)
        return False, f"no 200 from /healthz within {START_DEADLINE} s ({last})"

    def wait_exited(self, name, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            state = self.state(name)
            if not state.get("Running") and state.get("Status") in ("exited", "stopped"):
                return state
            time.sleep(0.5)
        return None

    def logs(self, name):
        _, out, err = self.podman.run("logs", name, check=False)
        return out + err

    def stop(self, name):
        """podman stop (SIGTERM, then SIGKILL after STOP_TIMEOUT); (seconds, exit code)."""
        started = time.monotonic()
        self.podman.run("stop", "-t", str(STOP_TIMEOUT), name, timeout=STOP_TIMEOUT + 120)
        elapsed = time.monotonic() - started
        return elapsed, self.state(name).get("ExitCode")

    def close(self):
        for name in reversed(self.containers):
            # -v: the anonymous volume a container without -v gets for VOLUME /data
            self.podman.run("rm", "-f", "-v", "-t", "0", name, check=False, timeout=120)
        for name in self.volumes:
            self.podman.run("volume", "rm", "-f", name, check=False, timeout=120)


def check_image(check, session):
    podman, image = session.podman, session.image
    config = json.loads(podman.inspect("image", image, "{{json .Config}}"))
    env = dict(item.split("=", 1) for item in config.get("Env") or [])
    health = json.loads(podman.inspect("image", image, "{{json .HealthCheck}}") or "null") or {}
    problems = []
    if config.get("User") != f"{UID}:{UID}":
        problems.append(f"user {config.get('User')!r}")
    if "/data" not in (config.get("Volumes") or {}):
        problems.append(f"volumes {config.get('Volumes')}")
    if "8080/tcp" not in (config.get("ExposedPorts") or {}):
        problems.append(f"ports {config.get('ExposedPorts')}")
    if env.get("PULSEGATE_HOST") != "0.0.0.0" or env.get("PULSEGATE_DB") != "/data/pulsegate.sqlite":
        problems.append(f"env {env}")
    if not health.get("Test"):
        problems.append("no HEALTHCHECK (built with --format oci?)")
    elif "/healthz" not in " ".join(health["Test"]):
        problems.append(f"HEALTHCHECK does not ask /healthz: {health['Test']}")
    if config.get("Entrypoint") != ["/usr/local/bin/pulsegate"]:
        problems.append(f"entrypoint {config.get('Entrypoint')} (the exec form keeps pulsegate PID 1)")
    check.record("image configuration", not problems,
                 "; ".join(problems) or f"user {config.get('User')}, VOLUME /data, EXPOSE 8080, HEALTHCHECK, "
                                        f"PULSEGATE_HOST=0.0.0.0, PULSEGATE_DB={env.get('PULSEGATE_DB')}")

    # The dashboard: the same files as the repository's Public/, Plotly included.
    expected = {}
    for root, _, files in os.walk(os.path.join(REPO, "Public")):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                expected[os.path.relpath(path, os.path.join(REPO, "Public"))] = hashlib.sha256(f.read()).hexdigest()
    public = env.get("PULSEGATE_PUBLIC_DIR", "")
    status, out, err = podman.run("run", "--rm", "--entrypoint", "bash", image, "-c",
                                  f"cd {public} && find . -type f -exec sha256sum {{}} +", check=False)
    found = {}
    for line in out.splitlines():
        digest, _, path = line.partition("  ")
        found[os.path.normpath(path)] = digest
    plotly = os.path.join("vendor", "plotly.min.js")
    same = status == 0 and found == expected and plotly in found
    check.record("dashboard files in the image", same,
                 f"{len(found)} files in {public} equal to Public/, {plotly} included" if same
                 else f"status {status}, missing {sorted(set(expected) - set(found))}, "
                      f"different {sorted(p for p in found if expected.get(p) != found[p])} {err.strip()[-300:]}")

    status, out, err = podman.run("run", "--rm", "--entrypoint", "bash", image, "-c",
                                  "ldd /usr/local/bin/pulsegate && stat -c %s /usr/local/bin/pulsegate", check=False)
    libraries = sorted(set(re.findall(r"^\s*(\S+\.so[.\d]*)", out, re.M)))
    size = out.strip().splitlines()[-1] if status == 0 else "?"
    bad = [lib for lib in libraries if "swift" in lib.lower() or "Foundation" in lib] + \
          re.findall(r"(\S+) => not found", out)
    check.record("binary links only system libraries", status == 0 and not bad and "libsqlite3.so.0" in libraries,
                 f"{int(size) / 1e6:.1f} MB; {' '.join(libraries)}" if status == 0 and not bad
                 else f"status {status}: {bad or (out + err).strip()[-400:]}")


def check_refusal(check, session):
    name, _ = session.start("untrusted", publish=False)
    state = session.wait_exited(name, START_DEADLINE)
    output = session.logs(name)
    refused = state is not None and state.get("ExitCode") != 0 and "refusing to listen on 0.0.0.0 without tokens" in output
    message = next((line.strip() for line in output.splitlines() if "refusing" in line), output.strip()[-200:])
    check.record("no tokens, no trusted network: refuses to start", refused,
                 f"exit {state.get('ExitCode') if state else 'none: still running'}: {message[:110]}…")


def check_tokens(check, session):
    token = secrets.token_hex(32)
    name, port = session.start("tokens", "-e", f"PULSEGATE_TOKENS=read,write:{token}")
    served, detail = session.wait_served(name, port)
    if not check.record("with tokens: /healthz served without a token", served, "200" if served else detail):
        return
    # The OpenAPI document is compiled into the binary (no resource bundle in the image):
    # served without a token, the same bytes as the file in the sources.
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=15) as response:
            served_document = response.read()
    except urllib.error.HTTPError as error:
        served_document = f"HTTP {error.code}".encode()
    with open(os.path.join(REPO, "Sources", "PulseServer", "Resources", "openapi.json"), "rb") as f:
        source_document = f.read()
    check.record("with tokens: /openapi.json served without a token, equal to the source",
                 served_document == source_document,
                 f"{len(served_document)} bytes served (sha256 {hashlib.sha256(served_document).hexdigest()[:12]}), "
                 f"{len(source_document)} in Sources/PulseServer/Resources "
                 f"(sha256 {hashlib.sha256(source_document).hexdigest()[:12]})")
    url = f"http://127.0.0.1:{port}/history?metric=host_cpu_usage_ratio&from=-1m"
    status, body, headers = http("GET", url)
    check.record("with tokens: /history without a token is 401", status == 401 and isinstance(body, dict) and "error" in body
                 and "Bearer" in (headers.get("WWW-Authenticate") or ""), f"{status} {json.dumps(body)[:90]}")
    status, body, _ = http("GET", url, headers={"Authorization": "Bearer " + secrets.token_hex(32)})
    check.record("with tokens: a wrong token is 401", status == 401, f"{status} {json.dumps(body)[:90]}")
    status, body, _ = http("GET", url, headers={"Authorization": f"Bearer {token}"})
    check.record("with tokens: the token is served", status == 200 and isinstance(body, dict) and "series" in body,
                 f"{status}, {len(body.get('series', [])) if isinstance(body, dict) else '?'} series")
    elapsed, code = session.stop(name)
    check.record("with tokens: podman stop exits 0", code == 0, f"exit {code} after {elapsed:.1f} s")


def check_trusted(check, session):
    volume = session.volume("data")
    name, port = session.start("trusted", "-e", "PULSEGATE_TRUSTED_NETWORK=1", "-v", f"{volume}:/data")
    served, body = session.wait_served(name, port)
    healthy = served and isinstance(body, dict) and body.get("status") == "ok" and body.get("database") == "/data/pulsegate.sqlite"
    check.record("trusted network: /healthz from outside, database in /data", healthy,
                 f"127.0.0.1:{port} -> 8080: {json.dumps(body)[:100]}" if served else body)
    if not served:
        return

    status, out, err = session.podman.run("healthcheck", "run", name, check=False, timeout=120)
    check.record("podman healthcheck run: healthy", status == 0, f"exit {status} {(out + err).strip()[:80]}")

    # A push read back: a value and a timestamp made here, a label unique to this run.
    ts = int(time.time() * 1000)
    value = round(random.uniform(1, 1e6), 6)
    run_label = secrets.token_hex(6)
    push = {"samples": [{"metric": "container_check_value", "labels": {"run": run_label}, "ts": ts, "value": value}]}
    status, body, _ = http("POST", f"http://127.0.0.1:{port}/ingest", json.dumps(push).encode(),
                           {"Content-Type": "application/json"})
    check.record("POST /ingest", status == 200 and body == {"accepted": 1}, f"{status} {json.dumps(body)}")
    history = (f"/history?metric=container_check_value&run={run_label}"
               f"&from={ts - 60_000}&to={ts + 60_000}")
    status, body, _ = http("GET", f"http://127.0.0.1:{port}{history}")
    points = points_of(body)
    check.record("/history returns the pushed sample", status == 200 and points == [[ts, value]],
                 f"{points} (pushed [[{ts}, {value}]])")

    # PID 1 is pulsegate itself (the exec form), as the image's non-root user.
    status, out, _ = session.podman.run("exec", name, "bash", "-c",
                                        "tr '\\0' ' ' </proc/1/cmdline; echo; grep -E '^(Uid|Gid):' /proc/1/status; "
                                        "stat -c '%u:%g %n' /data/pulsegate.sqlite", check=False)
    lines = out.splitlines()
    uids = re.findall(r"^(?:Uid|Gid):\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", out, re.M)
    as_user = status == 0 and lines and lines[0].split()[:1] == ["/usr/local/bin/pulsegate"] \
        and len(uids) == 2 and all(int(i) == UID for group in uids for i in group) \
        and f"{UID}:{UID} /data/pulsegate.sqlite" in out
    check.record("PID 1 is pulsegate, as uid 10001", as_user,
                 f"{lines[0].strip() if lines else '?'}; uid/gid {uids}; database owned {lines[-1].split()[0] if lines else '?'}")
    _, out, _ = session.podman.run("top", name, "user", "huser", "pid", "comm", check=False)
    users = [line.split() for line in out.splitlines()[1:] if line.strip()]
    check.record("podman top: no process runs as root", users and all(row[0] != "root" and row[1] != "0" for row in users),
                 "; ".join(" ".join(row) for row in users))

    elapsed, code = session.stop(name)
    check.record("podman stop (SIGTERM): exit 0, promptly", code == 0 and elapsed < STOP_QUICKLY,
                 f"exit {code} after {elapsed:.1f} s (SIGKILL would come after {STOP_TIMEOUT} s)")

    # The same volume, a new container: the sample is still there.
    second, port = session.start("again", "-e", "PULSEGATE_TRUSTED_NETWORK=1", "-v", f"{volume}:/data")
    served, detail = session.wait_served(second, port)
    status, body, _ = http("GET", f"http://127.0.0.1:{port}{history}") if served else (None, detail, None)
    points = points_of(body)
    check.record("second container on the volume: the sample kept", points == [[ts, value]],
                 f"{points}" if served else detail)
    elapsed, code = session.stop(second)
    check.record("second container: podman stop exits 0", code == 0 and elapsed < STOP_QUICKLY,
                 f"exit {code} after {elapsed:.1f} s")


def points_of(body):
    if not isinstance(body, dict):
        return body
    return [point for series in body.get("series", []) for point in series.get("points", [])]


def check_unhealthy(check, session):
    """The HEALTHCHECK can fail: a container of the image where nothing listens."""
    name, _ = session.start("idle", "--entrypoint", "sleep", publish=False, command=("600",))
    status, out, err = session.podman.run("healthcheck", "run", name, check=False, timeout=120)
    check.record("podman healthcheck run: unhealthy when nothing listens", status != 0,
                 f"exit {status} {(out + err).strip()[:80]}")
    session.podman.run("rm", "-f", "-v", "-t", "0", name, check=False)


def check_systemd(check, session, scratch):
    """deploy/systemd/pulsegate.service through systemd-analyze verify, with ExecStart
    pointed at the binary out of the image (verify wants an executable there)."""
    folder = os.path.join(scratch, "systemd")
    os.makedirs(folder)
    binary = os.path.join(folder, "pulsegate")
    holder = f"pulsegate-check-copy-{session.suffix}"
    session.containers.append(holder)
    session.podman.run("create", "--name", holder, session.image)
    session.podman.run("cp", f"{holder}:/usr/local/bin/pulsegate", binary)
    unit = open(os.path.join(REPO, "deploy", "systemd", "pulsegate.service")).read()
    edited, count = re.subn(r"^ExecStart=/usr/local/bin/pulsegate\b", f"ExecStart={binary}", unit, flags=re.M)
    path = os.path.join(folder, "pulsegate.service")
    with open(path, "w") as f:
        f.write(edited)
    result = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True)
    # verify exits 0 on unknown keys and unparsable values, warning only: any word about the unit fails.
    said = [line for line in (result.stdout + result.stderr).splitlines() if "pulsegate" in line]
    check.record("systemd-analyze verify pulsegate.service", count == 1 and result.returncode == 0 and not said,
                 f"clean (ExecStart -> the image's binary)" if count == 1 and not said and result.returncode == 0
                 else f"exit {result.returncode}, {count} ExecStart replaced: {' | '.join(said)[:300]}")
    result = subprocess.run(["systemd-analyze", "security", "--offline=true", path], capture_output=True, text=True)
    match = re.search(r"Overall exposure level for \S+: ([\d.]+) (\w+)", result.stdout)
    score = float(match.group(1)) if match else None
    check.record("systemd-analyze security: exposure at most 2.0", score is not None and score <= 2.0,
                 f"{match.group(1)} {match.group(2)}" if match else (result.stdout + result.stderr).strip()[-200:])
    # The unit's command line, as systemd would run it (%S: a scratch state directory,
    # its Environment= lines), on a free port: it starts, serves, and SIGTERM stops it with 0.
    command = re.search(r"^ExecStart=(.*)$", unit, re.M).group(1).split()
    state = os.path.join(folder, "state")
    os.makedirs(os.path.join(state, "pulsegate"))
    env = dict(os.environ)
    for assignment in re.findall(r"^Environment=(.*)$", unit, re.M):
        name, _, value = assignment.partition("=")
        env[name] = value.replace("/usr/local/share/pulsegate/Public", os.path.join(REPO, "Public"))
    env["PULSEGATE_PORT"] = "0"
    database = os.path.join(state, "pulsegate", "pulsegate.sqlite")
    with open(os.path.join(folder, "unit.log"), "wb") as out:
        process = subprocess.Popen([binary, *[a.replace("%S", state) for a in command[1:]]], env=env,
                                   cwd=os.path.join(state, "pulsegate"), stdout=out, stderr=subprocess.STDOUT)
    try:
        port = None
        deadline = time.monotonic() + START_DEADLINE
        while port is None and time.monotonic() < deadline and process.poll() is None:
            found = re.search(r"listening on 127\.0\.0\.1:(\d+)", tail(os.path.join(folder, "unit.log")))
            port = int(found.group(1)) if found else None
            time.sleep(0.2)
        status = http("GET", f"http://127.0.0.1:{port}/healthz")[0] if port else None
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=STOP_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    check.record("the unit's ExecStart runs: serves, stops with 0 on SIGTERM",
                 status == 200 and code == 0 and os.path.exists(database),
                 f"{' '.join(command[1:])}: /healthz {status}, exit {code}, database "
                 f"{'made' if os.path.exists(database) else 'missing'}"
                 + ("" if status == 200 else f": {tail(os.path.join(folder, 'unit.log'), 5).strip()[-300:]}"))


def unmount_under(folder):
    """Unmounts whatever podman left mounted under folder (overlay layers), deepest first."""
    mounts = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].encode().decode("unicode_escape")
            if point == folder or point.startswith(folder + "/"):
                mounts.append(point)
    for point in sorted(mounts, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--storage", help="podman storage root to use and keep (default: a scratch one)")
    parser.add_argument("--runroot", help="podman's run root to go with --storage (default: beside it, DIR.runroot)")
    parser.add_argument("--image", help="check this image, already in --storage, instead of building one")
    options = parser.parse_args()
    if options.image and not options.storage:
        parser.error("--image needs --storage (the scratch storage starts empty)")
    if os.geteuid() != 0:
        sys.exit("container-check: needs root (rootful podman, debootstrap)")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    total = time.monotonic()
    timings = {}
    os.makedirs(CACHE, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix="container-check.")
    storage = os.path.abspath(options.storage) if options.storage else os.path.join(scratch, "storage")
    runroot = options.runroot or (storage + ".runroot" if options.storage else os.path.join(scratch, "runroot"))
    podman = Podman(scratch, storage, runroot)
    session = None
    check = Check()
    failed = 1
    try:
        version = podman.run("version", "--format", "{{.Client.Version}}")[1].strip()
        log(f"podman {version} (runc), storage {storage}")
        image = options.image
        if not image:
            run, mirror = run_image(podman, scratch, timings)
            swift = shutil.which("swift")
            if not swift:
                raise RuntimeError("no swift on PATH: the builder uses this machine's toolchain")
            toolchain = os.path.dirname(os.path.dirname(os.path.realpath(swift)))
            mirrors = git_mirrors()
            builder = builder_image(podman, scratch, run, toolchain, mirrors, timings)
            volumes = ["--volume", f"{toolchain}:{toolchain}:ro"]
            for path in sorted({local_path(base) for base, _ in mirrors} - {None}):
                volumes += ["--volume", f"{path}:{path}:ro"]
            image = f"localhost/pulsegate-check:{secrets.token_hex(4)}"
            build_log = os.path.join(scratch, "build.log")
            log(f"podman build (a release build; log {build_log}) with {toolchain} and {volumes[3::2] or 'no local mirror'}")
            started = time.monotonic()
            try:
                # The host's network for the build's apt-get (the run stage installs libsqlite3-0);
                # --format docker keeps HEALTHCHECK, which OCI images cannot carry.
                podman.run("build", "--format", "docker", "--network", "host", *volumes,
                           "--build-arg", f"BUILD_IMAGE={builder}", "--build-arg", f"RUN_IMAGE={run}",
                           "-t", image, "-f", os.path.join(REPO, "Dockerfile"), REPO, log=build_log, timeout=3600)
            except RuntimeError:
                print(tail(build_log, 60), file=sys.stderr)
                raise
            timings["podman build"] = time.monotonic() - started
            size = int(podman.inspect("image", image, "{{.Size}}"))
            check.record("podman build", True, f"{timings['podman build']:.0f} s, image {size / 1e6:.0f} MB "
                                               f"(run image from debootstrap, {mirror})")
        session = Session(podman, image)
        started = time.monotonic()
        check_image(check, session)
        check_refusal(check, session)
        check_tokens(check, session)
        check_trusted(check, session)
        check_unhealthy(check, session)
        check_systemd(check, session, scratch)
        timings["checks"] = time.monotonic() - started
        failed = check.table()
    except Interrupted as error:
        log(f"interrupted ({error}); cleaning up")
        failed = 1
    except Exception as error:  # a step that could not run at all: the table so far, and why
        check.record("check could not go on", False, str(error)[-1500:])
        failed = check.table()
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if podman.current and podman.current.poll() is None:
            podman.current.kill()
        if session:
            session.close()
        if not options.storage:
            podman.run("rmi", "-a", "-f", check=False, timeout=300)
            unmount_under(storage)
        unmount_under(scratch)
        shutil.rmtree(scratch, ignore_errors=True)
    timings["total"] = time.monotonic() - total
    print("times: " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings.items()))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
