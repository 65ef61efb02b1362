"""The installed services under a real systemd: the installer (real mode, real systemctl) in a
container booted with systemd-nspawn, then Type=notify, STATUS=, LoadCredential=, the sandbox,
`journalctl -u`, `iothsmctl status` / `pki-relay status`, an upgrade (second run: restarted, password kept), replacing the UI certificate,
the watchdog restarting a stuck agent, and --uninstall --purge, all as an administrator would see them.

PID 1 on our machines is not systemd, but systemd-nspawn can boot one: the container's root is
an overlay whose lower layer is this machine's / and whose upper layer is a tmpfs (so nothing
the installer does reaches the machine), with a private network (only loopback; ports 8443 and
8444 of the machine stay free) and a minimal boot target (basic.target plus the test's own
oneshot service, which runs tests/ops/systemd_e2e.sh and powers the container off). The script
writes key=value results that this test asserts.
"""
import os
import shutil
import subprocess
import sys
import tempfile

import pkitest
from secretscan import ProcWatcher, scan_text

PASSWORD = "Nspawn-Admin-Passw0rd-5521"
HERE = os.path.dirname(os.path.abspath(__file__))

TARGET = """[Unit]
Description=ops e2e boot target
Requires=basic.target ops-e2e.service
After=basic.target
AllowIsolate=yes
"""
SERVICE = """[Unit]
Description=ops e2e: install and check the services
After=basic.target
[Service]
Type=oneshot
Environment=PKI_SOURCE_DIR={src} PKI_BUILD_DIR={build}
ExecStart=/bin/bash {script}
ExecStopPost=/bin/systemctl poweroff --no-block
TimeoutStartSec=400
StandardOutput=file:/ops-e2e/script.log
StandardError=inherit
"""


def sh(*cmd):
    subprocess.run(cmd, check=True)


def results(path):
    out = {}
    with open(path) as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                out[k] = v
    return out


def inner():
    top = os.environ["OPS_NSPAWN_TOP"]
    sh("mount", "-t", "tmpfs", "tmpfs", top)
    upper, work, merged = (os.path.join(top, d) for d in ("upper", "work", "merged"))
    for d in (upper, work, merged):
        os.mkdir(d)
    sh("mount", "-t", "overlay", "overlay", "-o",
       f"lowerdir=/,upperdir={upper},workdir={work}", merged)
    src, build = os.path.realpath(pkitest.SOURCE_DIR), os.path.realpath(pkitest.BUILD_DIR)
    # nspawn keeps its own state under /run/systemd/nspawn; give it a tmpfs of this namespace.
    sh("mount", "-t", "tmpfs", "tmpfs", "/run")
    os.makedirs(os.path.join(merged, "ops-e2e"))
    with open(os.path.join(merged, "ops-e2e", "pw"), "w") as f:
        f.write(PASSWORD + "\n")
    os.chmod(os.path.join(merged, "ops-e2e", "pw"), 0o600)
    sysdir = os.path.join(merged, "etc/systemd/system")
    with open(os.path.join(sysdir, "ops-e2e.target"), "w") as f:
        f.write(TARGET)
    with open(os.path.join(sysdir, "ops-e2e.service"), "w") as f:
        f.write(SERVICE.format(src=src, build=build,
                               script=os.path.join(src, "tests/ops/systemd_e2e.sh")))
    console = os.path.join(top, "console.log")
    cmd = ["systemd-nspawn", f"--directory={merged}", "--quiet", "--register=no",
           "--link-journal=no", "--keep-unit", "--private-network", "--console=passive",
           f"--bind-ro={src}", f"--bind={build}", "-b", "systemd.unit=ops-e2e.target"]
    rc = None
    with ProcWatcher([PASSWORD.encode()]) as watch, open(console, "wb") as log:
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            rc = p.wait(timeout=int(os.environ.get("OPS_NSPAWN_TIMEOUT", "300")))
        except subprocess.TimeoutExpired:
            p.terminate()  # nspawn asks the container to halt; a second time ends it at once
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.terminate()
                p.wait()
    res_path = os.path.join(merged, "ops-e2e", "result")
    script_log = os.path.join(merged, "ops-e2e", "script.log")
    if rc != 0 or not os.path.exists(res_path):
        keep = tempfile.mkdtemp(prefix="ops-systemd-failure-")
        shutil.copytree(os.path.join(merged, "ops-e2e"), keep, dirs_exist_ok=True)
        shutil.copy(console, keep)
        for path in (console, script_log):
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    sys.stderr.write(f"--- {path} ---\n{f.read()[-6000:]}\n")
        sys.stderr.write(f"logs kept in {keep}\n")
    assert rc == 0, f"systemd-nspawn: {'timed out' if rc is None else f'exit {rc}'}"
    res = results(res_path)
    with open(script_log, errors="replace") as f:
        print(f.read())

    def want(key, value):
        assert res.get(key) == value, f"{key}={res.get(key)!r}, want {value!r}"

    want("setup_rc", "0")
    for u in ("iothsm_agent", "pki_relay"):
        want(f"{u}.ActiveState", "active")
        want(f"{u}.SubState", "running")
        want(f"{u}.Type", "notify")
        assert res[f"{u}.StatusText"] not in ("", "serving"), f"{u}: no status line"
        want(f"{u}.WatchdogUSec", "30s")
        assert float(res[f"{u}.exposure"]) <= 2.0, f"{u}: exposure {res[f'{u}.exposure']}"
        want(f"{u}.journal_ready", "1")
        want(f"{u}.healthz", "200")
    want("iothsm_agent.User", "iothsm")
    want("pki_relay.User", "pki-relay")
    want("iothsm_agent.uid_name", "iothsm")
    want("pki_relay.uid_name", "pki-relay")
    want("iothsm_agent.credential", "present")
    want("iothsm_agent.cert_is_installed", "1")
    want("login", "200")
    want("relay_user_add_rc", "0")
    want("relay_login", "200")
    want("relay_ca_create", "201")
    want("journal_ca_field", "1")
    want("iothsmctl_rc", "0")
    want("relay_status_rc", "0")
    want("upgrade_rc", "0")
    want("upgrade_restarted", "1")
    want("login_after_upgrade", "200")
    want("new_cert_served", "1")
    want("watchdog_restarted", "1")
    assert int(res["NRestarts_after"]) >= 1, res
    want("watchdog_logged", "1")
    want("status_after_restart_rc", "0")
    want("purge_rc", "0")
    want("after_purge_enabled", "not-found")
    want("after_purge_user", "absent")
    print({k: v for k, v in res.items() if k.endswith(("StatusText", "exposure", "NRestarts_after"))})

    assert not watch.hits, f"the password showed in /proc: {watch.hits}"
    export = os.path.join(merged, "ops-e2e", "journal.export")
    with open(export, "rb") as f:
        journal = f.read()
    assert len(journal) > 1000, "the journal export is empty"
    assert not scan_text(journal, [PASSWORD.encode()]), "the password is in the journal"
    with open(os.path.join(merged, "ops-e2e", "setup.log"), errors="replace") as f:
        assert not scan_text(f.read(), [PASSWORD.encode()]), "the password is in setup's output"
    print("ok: under a real systemd the installed services run, report, restart and uninstall")


def main():
    if os.environ.get("OPS_NSPAWN_INNER") == "1":
        inner()
        return
    assert shutil.which("systemd-nspawn"), "systemd-nspawn is missing (package systemd-container)"
    top = tempfile.mkdtemp(prefix="ops-nspawn-")
    try:
        r = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, "-u",
                            os.path.abspath(__file__)],
                           env=dict(os.environ, OPS_NSPAWN_INNER="1", OPS_NSPAWN_TOP=top),
                           timeout=600)
    finally:
        os.rmdir(top)
    assert r.returncode == 0, "the systemd end-to-end run failed"


if __name__ == "__main__":
    main()
