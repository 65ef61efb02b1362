"""Both daemons work inside the sandbox their unit describes, and that sandbox holds.

systemd is not PID 1 here, so tests/ops/sandbox.py applies the unit file's sandbox with the same
kernel mechanisms systemd uses (mount namespace with a read-only system, private /tmp and /dev,
hidden homes, an unprivileged user without capabilities, no_new_privs, the seccomp allow-list
of SystemCallFilter=, MemoryDenyWriteExecute=, RestrictAddressFamilies=, RestrictNamespaces=).
First, probes show the sandbox refuses what the unit forbids; then each daemon runs inside it
under the systemd-like supervisor: READY, STATUS, watchdog pings, HTTPS, its status file in
the writable state directory, the agent's password set and used, a clean stop - and no
"not permitted" in its log.
"""
import os
import shutil
import subprocess
import sys
import tempfile

import pkitest
from sandbox import Sandbox
from supervisor import Supervisor

UID = GID = 65534  # an unprivileged id; the real units use iothsm / pki-relay
UNITS = {"iothsm-agent": "iothsm-agent.service", "pki-relay": "pki-relay.service"}
PASSWORD = "Sandboxed-Admin-Passw0rd"
SLOW = os.environ.get("PKI_SANITIZE", "").upper() in ("ON", "1", "TRUE")


def unit_path(name):
    return os.path.join(pkitest.SOURCE_DIR, "systemd", UNITS[name])


def prepare(name):
    base = tempfile.mkdtemp(prefix=f"ops-sandbox-{name}-", dir="/run")
    os.chmod(base, 0o755)
    state = os.path.join(base, "state")
    os.mkdir(state, 0o700)
    os.chown(state, UID, GID)
    creds = os.path.join(base, "credentials")
    os.mkdir(creds, 0o500)
    with open(os.path.join(creds, "master.key"), "wb") as f:
        f.write(os.urandom(32))
    os.chmod(os.path.join(creds, "master.key"), 0o400)
    os.chown(os.path.join(creds, "master.key"), UID, GID)
    os.chown(creds, UID, GID)
    port = pkitest.free_port()
    conf = os.path.join(base, "daemon.conf")
    with open(conf, "w") as f:
        f.write(f'log_level = "debug";\nstate_dir = "{state}";\n'
                f'http = {{ listen = "127.0.0.1"; port = {port}; }};\n')
    os.chmod(conf, 0o644)
    return base, state, creds, conf, port


def probe(sb, code):
    """Runs python code inside the sandbox; returns (exit code, output)."""
    r = subprocess.run([sys.executable, "-c", code], preexec_fn=sb.preexec, capture_output=True,
                       text=True, timeout=60)
    return r.returncode, (r.stdout + r.stderr).strip()


def check_sandbox_holds(state):
    sb = Sandbox(unit_path("iothsm-agent"), UID, GID, writable=[state])
    cases = [
        ("write outside the state directory", "open('/etc/ops-sandbox-probe', 'w')",
         "Read-only file system"),
        ("a home directory", "import os; os.listdir('/root')", "Permission denied"),
        ("a device", "open('/dev/kmsg', 'rb')", "No such file"),
        ("a netlink socket", "import socket; socket.socket(socket.AF_NETLINK, socket.SOCK_RAW)",
         "Address family not supported"),
        ("writable+executable memory",
         "import mmap; mmap.mmap(-1, 4096, prot=mmap.PROT_WRITE | mmap.PROT_EXEC)",
         "Operation not permitted"),
        ("a privileged system call", "import os; os.chroot('/')", "Operation not permitted"),
        ("a user namespace",  # allowed to unprivileged users unless RestrictNamespaces=
         "import ctypes, os; c = ctypes.CDLL(None, use_errno=True); "
         "raise SystemExit(os.strerror(ctypes.get_errno()) if c.unshare(0x10000000) else 'ALLOWED')",
         "Operation not permitted"),
        ("becoming root", "import os; os.setuid(0)", "Operation not permitted"),
    ]
    for what, code, want in cases:
        rc, out = probe(sb, code)
        assert rc != 0 and want in out, f"the sandbox allowed {what}: rc={rc} {out!r}"
    rc, out = probe(sb, f"open('{state}/probe', 'w').write('x'); import os; print(os.getuid())")
    assert rc == 0 and out == str(UID), f"the state directory is not writable: {out!r}"
    os.unlink(os.path.join(state, "probe"))
    rc, out = probe(sb, "import os; print(sorted(os.listdir('/tmp')))")
    assert rc == 0 and out == "['.dev']", f"/tmp is not private: {out}"
    print(f"sandbox holds: {len(cases)} forbidden things refused, state writable")


def healthy(port):
    for scheme in ("https", "http"):
        try:
            if pkitest.http("GET", f"{scheme}://127.0.0.1:{port}/healthz", timeout=3).status == 200:
                return scheme
        except OSError:
            continue
    return None


def run_daemon(name):
    base, state, creds, conf, port = prepare(name)
    sb = Sandbox(unit_path(name), UID, GID, writable=[state])
    env = dict(os.environ, CREDENTIALS_DIRECTORY=creds)
    env.pop("JOURNAL_STREAM", None)
    if SLOW:  # LeakSanitizer stops the world with ptrace, which the unit's filter forbids
        env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "detect_leaks=0"]))
    # The unit hides /tmp, /var/tmp, /home and /root, where a build tree may well live (CI clones
    # anywhere): run a copy of the program from the state's parent, as an installed one would be.
    exe = os.path.join(base, name)
    shutil.copy2(pkitest.program(name), exe)
    os.chmod(exe, 0o755)
    log_path = os.path.join(base, "log")
    ok = False
    log = open(log_path, "wb")
    sup = None
    try:
        if name == "iothsm-agent":
            r = subprocess.run([exe, "--config", conf, "set-password"], input=PASSWORD + "\n",
                               capture_output=True, text=True, env=env, preexec_fn=sb.preexec,
                               timeout=120)
            assert r.returncode == 0, f"set-password in the sandbox: {r.stdout}{r.stderr}"
        sup = Supervisor([exe, "--config", conf], watchdog_sec=4.0, env=env, stdout=log,
                         preexec_fn=sb.preexec, sock_dir=base)
        sup.start()
        i = sup.wait_for("ready", 60 if SLOW else 20)
        sup.wait_for("status", 10, after=i, pred=lambda d: d != "serving")
        scheme = healthy(port)
        assert scheme, f"{name} does not answer /healthz in its sandbox"
        if name == "iothsm-agent":
            r = pkitest.http("POST", f"{scheme}://127.0.0.1:{port}/api/login",
                             body={"password": PASSWORD})
            assert r.status == 200, f"login in the sandbox: {r.status} {r.body!r}"
        mark = len(sup.events)
        sup.wait_for("watchdog", 6, after=mark)
        assert os.path.exists(os.path.join(state, "status.json")), "no status file"
        status = sup.status
        rc = sup.stop()
        sup = None
        assert rc == 0, f"{name} exited {rc} in its sandbox"
        log.close()
        with open(log_path, errors="replace") as f:
            out = f.read()
        for bad in ("not permitted", "Read-only file system", "Address family not supported",
                    "AddressSanitizer"):
            assert bad not in out, f"{name} hit its sandbox ({bad}):\n{out}"
        print(f"{name}: READY, STATUS={status!r}, {scheme} healthz, "
              f"watchdog, clean stop inside its unit's sandbox")
        ok = True
    finally:
        if sup is not None:
            sup.stop()
        if not log.closed:
            log.close()
        if not ok:
            with open(log_path, errors="replace") as f:
                sys.stderr.write(f"--- {name} log ---\n{f.read()}\n")
        shutil.rmtree(base, ignore_errors=True)


def main():
    base = tempfile.mkdtemp(prefix="ops-sandbox-probe-", dir="/run")
    try:
        os.chmod(base, 0o755)
        state = os.path.join(base, "state")
        os.mkdir(state, 0o700)
        os.chown(state, UID, GID)
        check_sandbox_holds(state)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    for name in UNITS:
        run_daemon(name)
    print("ok: both daemons run inside their units' sandboxes, which refuse what they forbid")


if __name__ == "__main__":
    main()
