"""A small stand-in for systemd's service manager, for tests on machines whose PID 1 is not
systemd: it runs one Type=notify service with WatchdogSec= and Restart=on-failure.

What it does as systemd does (systemd.service(5), sd_notify(3)):
  - NOTIFY_SOCKET: an AF_UNIX datagram socket; messages are accepted only from the main
    process (NotifyAccess=main, checked with SCM_CREDENTIALS).
  - WATCHDOG_USEC and WATCHDOG_PID in the service's environment; the watchdog is armed once
    READY=1 arrives; if no WATCHDOG=1 comes within WATCHDOG_USEC the service is sent SIGABRT
    (WatchdogSignal=), then SIGKILL after abort_timeout (TimeoutAbortSec=).
  - Restart=on-failure: an exit with a non-zero status, or by a signal other than the clean
    ones (SIGHUP, SIGINT, SIGTERM, SIGPIPE), or a watchdog timeout, restarts it after
    restart_sec; a clean exit does not.
Every message and event is kept in `events` as (monotonic time, kind, detail).
"""
import os
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

CLEAN_SIGNALS = {signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE}


class Supervisor:
    def __init__(self, argv, watchdog_sec=2.0, restart_sec=0.5, abort_timeout=2.0, env=None,
                 stdout=None, preexec_fn=None, sock_dir=None):
        self.argv = list(argv)
        self.watchdog_usec = int(watchdog_sec * 1_000_000)
        self.restart_sec = restart_sec
        self.abort_timeout = abort_timeout
        self.env = dict(env or os.environ)
        self.stdout = stdout
        self.preexec_fn = preexec_fn  # e.g. sandbox.Sandbox(...).preexec
        self.dir = tempfile.mkdtemp(prefix="supervisor-", dir=sock_dir)
        os.chmod(self.dir, 0o755)  # a service running as another user must reach the socket
        self.sock_path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.sock_path)
        os.chmod(self.sock_path, 0o666)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.settimeout(0.05)
        self.events = []
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.proc = None
        self.starts = 0
        self.stopping = False
        self.last_ping = None
        self.ready = False
        self.status = None
        self._thread = None

    # ---- the service ----
    def _spawn(self):
        env = dict(self.env, NOTIFY_SOCKET=self.sock_path, WATCHDOG_USEC=str(self.watchdog_usec))
        # WATCHDOG_PID must be the service's own pid: a shell learns it and execs in place.
        argv = ["/bin/sh", "-c", 'WATCHDOG_PID=$$; export WATCHDOG_PID; exec "$@"', "sh",
                *self.argv]
        self.proc = subprocess.Popen(argv, env=env, stdout=self.stdout, stderr=subprocess.STDOUT,
                                     preexec_fn=self.preexec_fn)
        self.starts += 1
        self.ready = False
        self.last_ping = None
        self._event("start", self.proc.pid)

    def _event(self, kind, detail=None):
        with self.cond:
            self.events.append((time.monotonic(), kind, detail))
            self.cond.notify_all()

    def start(self):
        self._spawn()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _receive(self):
        try:
            msg, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
        except socket.timeout:
            return
        pid = None
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", data[:12])[0]
        if self.proc is None or pid != self.proc.pid:
            self._event("rejected", (pid, msg))  # NotifyAccess=main
            return
        for line in msg.decode(errors="replace").split("\n"):
            if "=" not in line:
                continue
            key, value = line.split("=", 1)
            if key == "READY" and value == "1":
                self.ready = True
                self.last_ping = time.monotonic()
                self._event("ready", pid)
            elif key == "WATCHDOG" and value == "1":
                self.last_ping = time.monotonic()
                self._event("watchdog", pid)
            elif key == "STATUS":
                self.status = value
                self._event("status", value)
            elif key == "STOPPING" and value == "1":
                self._event("stopping", pid)

    def _failed(self, rc):
        if rc > 0:
            return True
        return rc < 0 and signal.Signals(-rc) not in CLEAN_SIGNALS

    def _run(self):
        abort_at = None
        while True:
            self._receive()
            if self.proc is None:
                if self.stopping:
                    return
                continue
            rc = self.proc.poll()
            now = time.monotonic()
            if rc is not None:
                self._event("exit", rc)
                abort_at = None
                if self.stopping or not (self._failed(rc) or self._timed_out):
                    self._event("inactive", rc)
                    self.proc = None
                    return
                self._timed_out = False
                time.sleep(self.restart_sec)
                self._spawn()
                continue
            if abort_at is not None:
                if now - abort_at > self.abort_timeout:
                    self._event("kill", self.proc.pid)
                    self.proc.send_signal(signal.SIGKILL)
                    abort_at = None
                continue
            if self.ready and self.last_ping is not None and \
                    now - self.last_ping > self.watchdog_usec / 1e6:
                self._timed_out = True
                self._event("watchdog-timeout", self.proc.pid)
                self.proc.send_signal(signal.SIGABRT)
                abort_at = now

    _timed_out = False

    # ---- for tests ----
    def wait_for(self, kind, timeout, after=0, pred=None):
        """The first event of kind after index `after` (and matching pred); returns its index."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(after, len(self.events)):
                    t, k, d = self.events[i]
                    if k == kind and (pred is None or pred(d)):
                        return i
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {kind} event within {timeout}s; events: "
                                       f"{[(k, d) for _, k, d in self.events]}")
                self.cond.wait(left)

    def count(self, kind, after=0):
        with self.lock:
            return sum(1 for _, k, _ in self.events[after:] if k == kind)

    @property
    def pid(self):
        p = self.proc
        return p.pid if p else None

    def stop(self, timeout=20):
        """systemctl stop: SIGTERM, wait, SIGKILL when it hangs. Returns the exit code."""
        self.stopping = True
        p = self.proc
        rc = None
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                rc = p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                rc = p.wait()
                self._event("stop-timeout", p.pid)
        elif p is not None:
            rc = p.returncode
        if self._thread:
            self._thread.join(timeout=5)
        self.sock.close()
        try:
            os.unlink(self.sock_path)
            os.rmdir(self.dir)
        except OSError:
            pass
        return rc
