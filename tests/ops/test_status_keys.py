"""The agent's STATUS= line and `iothsmctl status` follow the YubiKeys: two virtual keys
(pcscd + vpcd + piv-sim) give "2 YubiKeys", pulling one gives "1 YubiKey" within a few seconds,
plugging it back gives "2 YubiKeys" again. The agent runs under tests/ops/supervisor.py, which
receives STATUS= as systemd would."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pkitest
from pivsim import PcscEnv
from supervisor import Supervisor

SLOW = os.environ.get("PKI_SANITIZE", "").upper() in ("ON", "1", "TRUE")


def iothsmctl(conf):
    r = subprocess.run([os.path.join(pkitest.BUILD_DIR, "tools", "iothsmctl", "iothsmctl"),
                        "--config", conf, "status"], capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout


def wait_status(sup, conf, text, timeout):
    """Waits until the STATUS= line and iothsmctl both show text; returns the seconds taken."""
    start = time.monotonic()
    mark = 0
    while True:
        ok_line = sup.status is not None and text in sup.status
        if ok_line:
            rc, out = iothsmctl(conf)
            if rc == 0 and text in out:
                return time.monotonic() - start
        if time.monotonic() - start > timeout:
            rc, out = iothsmctl(conf)
            raise AssertionError(f"no {text!r}: STATUS={sup.status!r}; iothsmctl ({rc}):\n{out}")
        with sup.cond:
            sup.cond.wait(0.2)
        mark += 1


def main():
    work = tempfile.mkdtemp(prefix="ops-status-keys-")
    state = os.path.join(work, "state")
    os.makedirs(state, mode=0o700)
    conf = os.path.join(work, "agent.conf")
    port = pkitest.free_port()
    with open(conf, "w") as f:
        f.write(f'state_dir = "{state}";\n'
                f'http = {{ listen = "127.0.0.1"; port = {port}; '
                f'webui_root = "{pkitest.SOURCE_DIR}/webui/agent"; }};\n')
    ok = False
    log = open(os.path.join(work, "agent.log"), "wb")
    sup = None
    try:
        with PcscEnv(n_keys=2) as env:
            sup = Supervisor([pkitest.program("iothsm-agent"), "--config", conf],
                             watchdog_sec=4.0, env=dict(os.environ, **env.env), stdout=log)
            sup.start()
            sup.wait_for("ready", 60 if SLOW else 20)
            t = wait_status(sup, conf, "2 YubiKeys", 30)
            print(f"STATUS={sup.status!r} ({t:.1f} s after start)")
            env.remove(1)
            t = wait_status(sup, conf, "1 YubiKey,", 15)
            print(f"key pulled: STATUS={sup.status!r} after {t:.1f} s")
            env.insert(1)
            t = wait_status(sup, conf, "2 YubiKeys", 15)
            print(f"key back: STATUS={sup.status!r} after {t:.1f} s")
            rc = sup.stop()
            sup = None
            assert rc == 0, f"iothsm-agent exited {rc}"
        ok = True
        print("ok: STATUS= and iothsmctl status follow the YubiKeys")
    finally:
        if sup is not None:
            sup.stop()
        log.close()
        if not ok:
            with open(os.path.join(work, "agent.log"), errors="replace") as f:
                sys.stderr.write(f.read()[-4000:])
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
