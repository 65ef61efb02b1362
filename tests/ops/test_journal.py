"""Structured journald fields: what lib/log sends under systemd can be selected with
`journalctl CA=… SLOT=… REQUEST_ID=… SERIAL=…`, and a daemon under systemd logs to the journal.

PID 1 here is not systemd, so the test runs a real systemd-journald of its own: in a private
mount namespace (unshare -m) with a tmpfs over /run (and over /var/log/journal when it exists),
so its socket and files are invisible to the rest of the machine and vanish with the test.
JOURNAL_STREAM is set as systemd sets it for a service whose output goes to the journal.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import pkitest

JOURNALD = "/lib/systemd/systemd-journald"


def inner():
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/run"], check=True)
    if os.path.isdir("/var/log/journal"):
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/var/log/journal"], check=True)
    jd = subprocess.Popen([JOURNALD], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if os.path.exists("/run/systemd/journal/socket"):
                break
            time.sleep(0.05)
        assert os.path.exists("/run/systemd/journal/socket"), "journald did not start"
        env = dict(os.environ, JOURNAL_STREAM="8:12345")
        tag = uuid.uuid4().hex
        probe = os.path.join(pkitest.BUILD_DIR, "tests", "ops", "ops_log_probe")
        r = subprocess.run([probe, tag], env=env, capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert r.stderr == "", f"under journald the message went to stderr: {r.stderr!r}"

        # A daemon started as systemd would start it logs into the journal too.
        work = tempfile.mkdtemp(prefix="ops-journal-")
        port = pkitest.free_port()
        conf = os.path.join(work, "relay.conf")
        os.makedirs(os.path.join(work, "state"), mode=0o700)
        with open(conf, "w") as f:
            f.write(f'state_dir = "{work}/state";\n'
                    f'http = {{ listen = "127.0.0.1"; port = {port}; }};\n')
        d = subprocess.Popen([pkitest.program("pki-relay"), "--config", conf], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        pkitest.wait_for_port(port, timeout=60, proc=d)
        d.send_signal(signal.SIGTERM)
        out, err = d.communicate(timeout=30)
        assert d.returncode == 0, err
        shutil.rmtree(work, ignore_errors=True)

        def journal(*match, wait=10):
            deadline = time.monotonic() + wait
            while True:
                r = subprocess.run(["journalctl", "--no-pager", "-o", "json", *match],
                                   capture_output=True, text=True, timeout=30)
                rows = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
                if rows or time.monotonic() > deadline:
                    return rows
                time.sleep(0.2)

        rows = journal(f"REQUEST_ID={tag}")
        assert len(rows) == 1, f"REQUEST_ID={tag}: {rows}"
        e = rows[0]
        want = {"CA": "3", "SLOT": "9c", "REQUEST_ID": tag, "SERIAL": "4f2a9c01",
                "SYSLOG_IDENTIFIER": "ops-log-probe", "PRIORITY": "5",
                "MESSAGE": f"signed a certificate for request {tag}"}
        for k, v in want.items():
            assert e.get(k) == v, f"{k}={e.get(k)!r}, want {v!r}: {e}"
        # Each field selects it, alone and combined, as an operator would type it.
        for m in (["CA=3"], ["SLOT=9c"], ["SERIAL=4f2a9c01"], ["CA=3", "SLOT=9c"]):
            assert any(r.get("REQUEST_ID") == tag for r in journal(*m)), f"not found with {m}"
        assert not journal("CA=4", f"REQUEST_ID={tag}", wait=0), "a wrong CA matched"
        relay = journal("SYSLOG_IDENTIFIER=pki-relay")
        msgs = [r.get("MESSAGE") for r in relay]
        assert "pki-relay ready" in msgs and "pki-relay stopping" in msgs, msgs
        print(f"journald has the probe's fields {sorted(want)} and {len(relay)} pki-relay entries")
    finally:
        jd.send_signal(signal.SIGTERM)
        jd.wait(timeout=10)


def main():
    if os.environ.get("OPS_JOURNAL_INNER") == "1":
        inner()
        return
    assert os.path.exists(JOURNALD), f"{JOURNALD} is missing (package systemd)"
    # Without JOURNAL_STREAM the same fields go to stderr, appended in brackets.
    probe = os.path.join(pkitest.BUILD_DIR, "tests", "ops", "ops_log_probe")
    env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
    r = subprocess.run([probe, "t1"], env=env, capture_output=True, text=True, timeout=30)
    assert r.stderr.strip() == ("ops-log-probe: notice: signed a certificate for request t1 "
                                "[CA=3 SLOT=9c REQUEST_ID=t1 SERIAL=4f2a9c01]"), r.stderr
    r = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, "-u",
                        os.path.abspath(__file__)],
                       env=dict(os.environ, OPS_JOURNAL_INNER="1"), timeout=120)
    assert r.returncode == 0, "the journald part failed"
    print("ok: structured fields reach journald and select with journalctl CA=/SLOT=/SERIAL=")


if __name__ == "__main__":
    main()
