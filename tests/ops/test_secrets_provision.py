"""No secret in argv, environment listings, logs or state during a provisioning run of the
appliance: admin password set on stdin, login, a virtual YubiKey's PIN and PUK changed through
the agent, a key generated on it, a self-signed CA certificate signed on it. /proc/*/cmdline and
/proc/*/environ of every process are scanned all along; afterwards the agent's log and every file
of its state directory are searched for the password, the PIN, the PUK and the master key (raw,
hex and base64). Signing for a relay over the link joins this test when the link lands: add its
steps below and its secrets to SECRETS.
"""
import os
import secrets as pysecrets
import shutil
import sys
import tempfile

import pkitest

sys.path.insert(0, os.path.join(pkitest.SOURCE_DIR, "tests", "agent"))
from agentlib import Client, agent, expect, make_template, set_up, wait_key  # noqa: E402
from pivsim import PcscEnv  # noqa: E402
from secretscan import ProcWatcher, scan_text, scan_tree  # noqa: E402

PASSWORD = "Provisioning-Admin-" + pysecrets.token_hex(6)
PIN = "%08d" % (pysecrets.randbelow(90000000) + 10000000)
PUK = "%08d" % (pysecrets.randbelow(90000000) + 10000000)
MASTER = pysecrets.token_bytes(32)
SECRETS = [PASSWORD.encode(), PIN.encode(), PUK.encode(), MASTER]


def main():
    work = tempfile.mkdtemp(prefix="ops-secrets-prov-")
    creds = os.path.join(work, "credentials")
    os.mkdir(creds, 0o700)
    with open(os.path.join(creds, "master.key"), "wb") as f:
        f.write(MASTER)
    ok = False
    try:
        with ProcWatcher(SECRETS) as watch:
            with PcscEnv(n_keys=1) as env:
                d = agent(extra='log_level = "debug";', password=PASSWORD,
                          env=dict(env.env, CREDENTIALS_DIRECTORY=creds))
                with d:
                    c = Client(d.url)
                    c.login(PASSWORD)
                    serial = env.serials[0]
                    wait_key(c, serial)
                    set_up(c, serial, pin=PIN, puk=PUK)
                    expect(c.post(f"/api/keys/{serial}/slots/9c/generate",
                                  {"pin": PIN, "algorithm": "ec-p256"}), 200)
                    r = expect(c.post(f"/api/keys/{serial}/slots/9c/provision",
                                      {"pin": PIN, "template": make_template(work),
                                       "mode": "self-signed"}), 200)
                    assert "BEGIN CERTIFICATE" in r.json()["certificate"]
                    expect(c.post(f"/api/keys/{serial}/verify-pin", {"pin": PIN}), 200)
                    log = d.output()
                    state = d.state_dir
                    hits_state = scan_tree(state, SECRETS)
        print(f"/proc scanned {watch.scans} times, {len(watch.pids_seen)} processes seen")
        assert watch.scans > 10, "the /proc watcher hardly ran"
        assert not watch.hits, f"a secret showed in /proc: {watch.hits}"
        assert not scan_text(log, SECRETS), f"the agent logged a secret:\n{log}"
        assert not hits_state, f"a secret is stored in clear: {hits_state}"
        print(f"agent log: {len(log.splitlines())} lines; state files searched; no secret")
        ok = True
        print("ok: password, PIN, PUK and master key stayed out of argv, environments, logs, state")
    finally:
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            sys.stderr.write(f"kept {work}\n")


if __name__ == "__main__":
    main()
