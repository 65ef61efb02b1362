"""No secret in argv, environment listings, logs or state files while the daemons run.

Each daemon gets a master key the way systemd hands it over (LoadCredential= ->
$CREDENTIALS_DIRECTORY/master.key); the agent also gets an admin password through
`set-password` on stdin and a login through its API. /proc/*/cmdline and /proc/*/environ of
every process are scanned all along, and afterwards the daemons' output and every file in
their state directories (the master key must never be copied there in clear, the password only
as a hash). Secrets are looked for raw, as hex and as base64.

The full provisioning and signing run (PIN, PUK, management key, enrolment token, relay admin
password, signatures over the link) is test_secrets_provision.py.
"""
import os
import secrets as pysecrets
import shutil
import signal
import subprocess
import sys
import tempfile

import pkitest
from secretscan import ProcWatcher, scan_text, scan_tree

PASSWORD = "Secret-Admin-Passw0rd-" + pysecrets.token_hex(4)
SLOW = os.environ.get("PKI_SANITIZE", "").upper() in ("ON", "1", "TRUE")


def assert_agent_has_set_password():
    """The agent's admin password goes in through `set-password` on stdin: a build without it is
    a failure, not a reason to check less."""
    r = subprocess.run([pkitest.program("iothsm-agent"), "--help"], capture_output=True, text=True)
    assert "set-password" in r.stdout, f"iothsm-agent has no set-password:\n{r.stdout}"


def reachable(port):
    for scheme in ("https", "http"):
        try:
            if pkitest.http("GET", f"{scheme}://127.0.0.1:{port}/healthz", timeout=3).status == 200:
                return scheme
        except OSError:
            continue
    return None


def run_daemon(name, work, master_key, secrets, exercise):
    state = os.path.join(work, name, "state")
    creds = os.path.join(work, name, "credentials")
    os.makedirs(state, mode=0o700)
    os.makedirs(creds, mode=0o700)
    with open(os.path.join(creds, "master.key"), "wb") as f:
        f.write(master_key)
    os.chmod(os.path.join(creds, "master.key"), 0o600)
    port = pkitest.free_port()
    conf = os.path.join(work, name, "daemon.conf")
    with open(conf, "w") as f:
        f.write(f'log_level = "debug";\nstate_dir = "{state}";\n'
                f'http = {{ listen = "127.0.0.1"; port = {port}; }};\n')
    env = dict(os.environ, CREDENTIALS_DIRECTORY=creds)
    env.pop("JOURNAL_STREAM", None)  # logs to stderr, where the test can read them
    exe = pkitest.program(name)
    out = ""
    if name == "iothsm-agent":
        assert_agent_has_set_password()
        r = subprocess.run([exe, "--config", conf, "set-password"], input=PASSWORD + "\n",
                           capture_output=True, text=True, env=env, timeout=120)
        assert r.returncode == 0, r.stderr
        out += r.stdout + r.stderr
    log_path = os.path.join(work, name, "log")
    with open(log_path, "wb") as log:
        p = subprocess.Popen([exe, "--config", conf], stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            pkitest.wait_for_port(port, timeout=60 if SLOW else 20, proc=p)
            scheme = reachable(port)
            assert scheme, f"{name} does not answer /healthz"
            exercise(name, f"{scheme}://127.0.0.1:{port}")
        finally:
            p.send_signal(signal.SIGTERM)
            rc = p.wait(timeout=30)
    with open(log_path, errors="replace") as f:
        out += f.read()
    assert rc == 0, f"{name} exited {rc}:\n{out}"
    assert "ERROR: AddressSanitizer" not in out, out
    hits = scan_text(out, secrets)
    assert not hits, f"{name} logged a secret ({hits}):\n{out}"
    leaked = scan_tree(state, secrets)
    assert not leaked, f"{name} stored a secret in clear: {leaked}"
    print(f"{name}: {len(out.splitlines())} log lines and {sum(len(f) for _, _, f in os.walk(state))} "
          f"state files without a secret")


def exercise(name, url):
    pkitest.http("GET", url + "/healthz")
    if name == "iothsm-agent":
        ok = pkitest.http("POST", url + "/api/login", body={"password": PASSWORD})
        assert ok.status == 200, f"login with the password set on stdin: {ok.status} {ok.body!r}"
        bad = pkitest.http("POST", url + "/api/login", body={"password": PASSWORD + "x"})
        assert bad.status == 401, f"wrong password: {bad.status}"


def main():
    work = tempfile.mkdtemp(prefix="ops-secrets-")
    keys = {n: pysecrets.token_bytes(32) for n in ("pki-relay", "iothsm-agent")}
    secret_list = [PASSWORD.encode(), PASSWORD.encode() + b"x", *keys.values()]
    ok = False
    try:
        with ProcWatcher(secret_list) as watch:
            for name, key in keys.items():
                run_daemon(name, work, key, secret_list, exercise)
        print(f"/proc scanned {watch.scans} times, {len(watch.pids_seen)} processes seen")
        assert watch.scans > 10, "the /proc watcher hardly ran"
        assert not watch.hits, f"a secret showed in /proc: {watch.hits}"
        # The checker itself can fail: a secret on a command line is caught.
        with ProcWatcher([keys["pki-relay"]]) as probe:
            subprocess.run(["sh", "-c", "sleep 0.3", "sh", keys["pki-relay"].hex()])
        assert probe.hits, "the /proc watcher missed a secret in argv"
        ok = True
        print("ok: no secret in argv, environments, logs or state files")
    finally:
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            sys.stderr.write(f"kept {work}\n")


if __name__ == "__main__":
    main()
