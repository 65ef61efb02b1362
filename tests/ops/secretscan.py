"""Looks for known secrets where they must never be: any process's argv (/proc/*/cmdline),
any process's environment (/proc/*/environ), logs, command output and files.

A secret is looked for as given and in the encodings it could leak in (hex, base64, base64url),
so a master key printed as hex is caught as surely as a password printed as text.

    with ProcWatcher([b"hunter2"]) as w:      # polls /proc while the block runs
        run_things()
    assert not w.hits, w.hits
    assert not scan_text(output, [b"hunter2"])
    assert not scan_tree(root, [b"hunter2"])
"""
import base64
import os
import threading
import time


def forms(secret):
    """The byte strings under which a secret could show up."""
    s = secret if isinstance(secret, bytes) else secret.encode()
    out = {s, s.hex().encode(), s.hex().upper().encode(), base64.b64encode(s),
           base64.urlsafe_b64encode(s).rstrip(b"=")}
    if len(s) >= 6:
        out.add(base64.b64encode(s).rstrip(b"="))
    return {f for f in out if len(f) >= 6}


def _find(data, secrets):
    hits = []
    for sec in secrets:
        for f in forms(sec):
            if f in data:
                hits.append(f)
    return hits


def scan_text(text, secrets):
    """The forms of secrets found in text (str or bytes)."""
    data = text.encode(errors="replace") if isinstance(text, str) else text
    return _find(data, secrets)


def scan_tree(top, secrets, skip=()):
    """{path: forms found} for every regular file under top (paths in skip excepted)."""
    found = {}
    for dirpath, _, files in os.walk(top):
        for name in files:
            p = os.path.join(dirpath, name)
            if p in skip or os.path.islink(p) or not os.path.isfile(p):
                continue
            try:
                with open(p, "rb") as f:
                    hits = _find(f.read(), secrets)
            except OSError:
                continue
            if hits:
                found[p] = hits
    return found


def scan_proc(secrets, own_pid=None):
    """[(pid, 'cmdline'|'environ', comm, form)] for every live process but this one."""
    own_pid = own_pid or os.getpid()
    hits = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == own_pid:
            continue
        for what in ("cmdline", "environ"):
            try:
                with open(f"/proc/{entry}/{what}", "rb") as f:
                    data = f.read()
            except OSError:
                continue  # gone, or not ours to read
            for form in _find(data, secrets):
                try:
                    with open(f"/proc/{entry}/comm") as f:
                        comm = f.read().strip()
                except OSError:
                    comm = "?"
                hits.append((int(entry), what, comm, form))
    return hits


class ProcWatcher:
    """Scans /proc over and over while the with-block runs; hits collects what it saw."""

    def __init__(self, secrets, interval=0.005):
        self.secrets = list(secrets)
        self.interval = interval
        self.hits = []
        self.scans = 0
        self.pids_seen = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            for h in scan_proc(self.secrets):
                if h not in self.hits:
                    self.hits.append(h)
            self.pids_seen.update(int(e) for e in os.listdir("/proc") if e.isdigit())
            self.scans += 1
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        return False
