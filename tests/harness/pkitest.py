"""Helpers for integration and end-to-end tests.

Every test that needs a daemon uses `Daemon`: it writes a config into a fresh state directory,
starts the program on a free loopback port, waits until it answers /healthz, and stops it with
SIGTERM on exit, failing the test if the daemon did not exit cleanly (a crash, a sanitizer report
or a hang on shutdown is a test failure, not noise).

Environment (set by ctest through cmake/PkiTesting.cmake):
  PKI_BUILD_DIR   the CMake build directory with the programs
  PKI_SOURCE_DIR  the source tree
"""
import json
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

BUILD_DIR = os.environ.get("PKI_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
SOURCE_DIR = os.environ.get("PKI_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))

PROGRAMS = {
    "pki-relay": os.path.join(BUILD_DIR, "relay", "pki-relay"),
    "iothsm-agent": os.path.join(BUILD_DIR, "agent", "iothsm-agent"),
}


def program(name):
    path = PROGRAMS.get(name) or os.path.join(BUILD_DIR, name)
    if not os.access(path, os.X_OK):
        raise FileNotFoundError(f"{name} is not built at {path}")
    return path


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
            return low, high
    except (OSError, ValueError):
        return 32768, 60999


def free_port(count=1):
    """A loopback TCP port nobody listens on right now (with count > 1: the first of count
    consecutive free ports).

    Chosen below the kernel's ephemeral range: a daemon that a test stops and starts again on
    the same port must find it free, and a port from the ephemeral range may meanwhile have
    become the source port of some other test's outgoing connection (EADDRINUSE)."""
    low, _ = _ephemeral_range()
    top = min(low, 65536) - count
    bottom = 10000 if top > 12000 else 1024
    for _ in range(500):
        p = random.randrange(bottom, top)
        socks = []
        try:
            for i in range(count):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(s)
                s.bind(("0.0.0.0", p + i))
            return p
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free TCP port below the ephemeral range")


def wait_for_port(port, host="127.0.0.1", timeout=20.0, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


def run(cmd, check=True, input=None, timeout=120, env=None):
    """Runs a command, returns CompletedProcess with text output; raises with output on failure."""
    r = subprocess.run(cmd, input=input, capture_output=True, text=isinstance(input, str) or input is None,
                       timeout=timeout, env=env)
    if check and r.returncode != 0:
        raise AssertionError(f"{cmd!r} exited {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}")
    return r


class HttpResult:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # case-insensitive (http.client.HTTPMessage)
        self.body = body

    def json(self):
        return json.loads(self.body)


def http(method, url, body=None, headers=None, timeout=30):
    """One HTTP(S) request; TLS certificates are not verified (tests pin what they need)."""
    data = body
    hdrs = dict(headers or {})
    if isinstance(body, (dict, list)):
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        data = body.encode()
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=ctx) as r:
            return HttpResult(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        return HttpResult(e.code, e.headers, e.read())


class Daemon:
    """A daemon under test. Use as a context manager.

    config: libconfig text; the placeholders {port} and {state_dir} are filled in.
    """

    def __init__(self, name, config, args=(), env=None, ready_path="/healthz", scheme="http"):
        self.name = name
        self.exe = program(name)
        self.dir = tempfile.mkdtemp(prefix=f"{name}-")
        self.state_dir = os.path.join(self.dir, "state")
        os.makedirs(self.state_dir, mode=0o700)
        self.port = free_port()
        self.config_path = os.path.join(self.dir, "daemon.conf")
        with open(self.config_path, "w") as f:
            f.write(config.format(port=self.port, state_dir=self.state_dir, dir=self.dir))
        self.args = list(args)
        self.env = dict(os.environ, **(env or {}))
        self.ready_path = ready_path
        self.scheme = scheme
        self.proc = None
        self.log_path = os.path.join(self.dir, "daemon.log")

    @property
    def url(self):
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self, timeout=30.0):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.exe, "--config", self.config_path, *self.args],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
        wait_for_port(self.port, timeout=timeout, proc=self.proc)
        if self.ready_path:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    if http("GET", self.url + self.ready_path, timeout=2).status == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.name} not ready:\n{self.output()}")
                time.sleep(0.05)
        return self

    def output(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout=20.0):
        """SIGTERM, then expect exit status 0 within timeout. Returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"{self.name} did not stop within {timeout}s of SIGTERM:\n{self.output()}")
        return rc

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        rc = self.stop()
        self.log.close()
        if exc_type is None and rc != 0:
            raise AssertionError(f"{self.name} exited with {rc} on SIGTERM:\n{self.output()}")
        if exc_type is None and "ERROR: AddressSanitizer" in self.output():
            raise AssertionError(f"{self.name} sanitizer report:\n{self.output()}")
        if exc_type is not None:
            sys.stderr.write(f"--- {self.name} output ---\n{self.output()}\n")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        return False
