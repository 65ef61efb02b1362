"""Monitoring under a service manager: READY and STATUS arrive, the event loop pings the
watchdog, a daemon whose loop is stuck is killed and restarted, a clean stop is not restarted,
and the status commands tell running, stopped and crashed apart.

PID 1 here is not systemd (and `systemd-run --user` needs a user manager), so the daemons run
under tests/ops/supervisor.py, which implements NOTIFY_SOCKET, WATCHDOG_USEC/WATCHDOG_PID,
WatchdogSignal=SIGABRT + TimeoutAbortSec and Restart=on-failure as systemd does. A stuck loop is
made with SIGSTOP: the process stays, its loop never runs again, no WATCHDOG=1 comes.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pkitest
from supervisor import Supervisor

SLOW = os.environ.get("PKI_SANITIZE", "").upper() in ("ON", "1", "TRUE")
# Long enough that a loaded machine (ctest -j, sanitizers) never misses a ping by accident.
WATCHDOG_SEC = 4.0 if SLOW else 3.0


def daemon_conf(state_dir, port):
    return (f'log_level = "info";\nstate_dir = "{state_dir}";\n'
            f'http = {{ listen = "127.0.0.1"; port = {port}; }};\n')


def healthy(port):
    """/healthz answers 200, over HTTPS (a relay makes itself a certificate) or HTTP."""
    for scheme in ("https", "http"):
        try:
            if pkitest.http("GET", f"{scheme}://127.0.0.1:{port}/healthz", timeout=2).status == 200:
                return True
        except OSError:
            continue
    return False


def status_cmd(name, conf):
    """`pki-relay status` or `iothsmctl status`, as an administrator runs them."""
    if name == "pki-relay":
        cmd = [pkitest.program("pki-relay"), "--config", conf, "status"]
    else:
        cmd = [os.path.join(pkitest.BUILD_DIR, "tools", "iothsmctl", "iothsmctl"), "--config",
               conf, "status"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout


def check(name):
    work = tempfile.mkdtemp(prefix=f"ops-watchdog-{name}-")
    state = os.path.join(work, "state")
    os.makedirs(state, mode=0o700)
    port = pkitest.free_port()
    conf = os.path.join(work, "daemon.conf")
    with open(conf, "w") as f:
        f.write(daemon_conf(state, port))
    log = open(os.path.join(work, "daemon.log"), "wb")
    sup = Supervisor([pkitest.program(name), "--config", conf],
                     watchdog_sec=WATCHDOG_SEC, restart_sec=0.5, abort_timeout=2.0, stdout=log)
    ok = False
    try:
        sup.start()
        start_timeout = 60 if SLOW else 20
        i = sup.wait_for("ready", start_timeout)
        first_pid = sup.pid
        # READY=1 comes with STATUS=serving; then the loop publishes the status line.
        sup.wait_for("status", 10, after=i, pred=lambda d: d != "serving")
        assert sup.status, "an empty STATUS= line"
        print(f"READY from pid {first_pid}, STATUS={sup.status!r}")
        assert healthy(port)

        # Running normally for 3 watchdog periods: pings keep coming, nothing restarts.
        mark = len(sup.events)
        time.sleep(3 * WATCHDOG_SEC)
        pings = sup.count("watchdog", after=mark)
        print(f"{pings} WATCHDOG=1 in {3 * WATCHDOG_SEC:.0f} s")
        assert pings >= 4, f"only {pings} watchdog pings in {3 * WATCHDOG_SEC} s"
        assert sup.count("watchdog-timeout") == 0 and sup.starts == 1, sup.events
        rc, out = status_cmd(name, conf)
        print(out)
        assert rc == 0 and f"{name}: running" in out and f"pid        {first_pid}" in out, out

        # The loop gets stuck: no more pings, the supervisor aborts, kills and restarts it.
        stuck_at = time.monotonic()
        os.kill(first_pid, signal.SIGSTOP)
        t = sup.wait_for("watchdog-timeout", WATCHDOG_SEC + 5, after=mark)
        sup.wait_for("exit", 10, after=t)
        r = sup.wait_for("ready", start_timeout, after=t)
        restarted_in = sup.events[r][0] - stuck_at
        second_pid = sup.pid
        assert second_pid != first_pid, "the same process after a restart?"
        print(f"stuck loop detected and the daemon restarted in {restarted_in:.1f} s "
              f"(pid {first_pid} -> {second_pid})")
        assert restarted_in < WATCHDOG_SEC + 2.0 + 0.5 + start_timeout
        assert healthy(port), "not serving after the restart"
        rc, out = status_cmd(name, conf)
        assert rc == 0 and f"pid        {second_pid}" in out, out

        # A clean stop is final (Restart=on-failure), and the status says so.
        rc = sup.stop()
        assert rc == 0, f"{name} exited {rc} on SIGTERM"
        assert sup.starts == 2, f"{sup.starts} starts"
        rc, out = status_cmd(name, conf)
        assert rc == 3 and "stopped cleanly" in out, out
        ok = True
        print(f"ok {name}: READY, STATUS, watchdog pings, restart of a stuck loop, clean stop")
    finally:
        if sup.proc is not None:
            sup.stop()
        log.close()
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            with open(os.path.join(work, "daemon.log"), errors="replace") as f:
                sys.stderr.write(f.read())


def main():
    for name in ("pki-relay", "iothsm-agent"):
        check(name)


if __name__ == "__main__":
    main()
