"""No secret in argv, environment listings, logs or state during a full provisioning and signing
run: pki-relay + iothsm-agent + pcscd + vpcd + piv-sim on loopback, driven through the relay's
REST API and the agent's wizard API only.

The relay gets its master key as a systemd credential and an admin user whose password goes in
on stdin; the agent likewise gets its own master key and admin password. Through the agent the
virtual YubiKey's PIN and PUK are changed (the agent sets a random PIN-protected management
key); the relay makes an HSM root CA and its provisioning certificate (which carries the
one-time enrolment token); the agent's wizard generates a key on the card (PIN policy
"once"), enrols with the token and writes the CA certificate; the slot is unlocked for link
signatures with the PIN; the relay imports the certificate, issues a leaf signed on the card over
the link, revokes it, and answers for its CRL and OCSP (both signed on the card); finally the
agent makes a self-signed CA on another slot.

/proc/*/cmdline and /proc/*/environ of every process are scanned all along (secrets learnt
during the run, the token and the management key, join the watch as soon as they are known);
afterwards both daemons' output and every file of both state directories are searched for the
relay admin password, both master keys, the enrolment token, the agent admin password, the PIN,
the PUK and the management key (raw, hex and base64).
"""
import hashlib
import os
import re
import secrets as pysecrets
import shutil
import sys
import tempfile

import pkitest

sys.path.insert(0, os.path.join(pkitest.SOURCE_DIR, "tests", "link"))
import linktest  # noqa: E402  (also puts tests/agent and tests/relay on the path)
import provcert  # noqa: E402
import relaytest  # noqa: E402
from agentlib import Client, agent, expect, keys, make_template, set_up, wait_key  # noqa: E402
from cryptography import x509  # noqa: E402
from pivsim import PcscEnv  # noqa: E402
from secretscan import ProcWatcher, scan_text, scan_tree  # noqa: E402

RELAY_ADMIN = "secadmin"
RELAY_PASSWORD = "Relay-Admin-" + pysecrets.token_hex(8)
AGENT_PASSWORD = "Provisioning-Admin-" + pysecrets.token_hex(8)
PIN = "%08d" % (pysecrets.randbelow(90000000) + 10000000)
PUK = "%08d" % (pysecrets.randbelow(90000000) + 10000000)
RELAY_MASTER = pysecrets.token_bytes(32)
AGENT_MASTER = pysecrets.token_bytes(32)
# Known before the run; the enrolment token and the management key are added when learnt.
SECRETS = [RELAY_PASSWORD.encode(), AGENT_PASSWORD.encode(), PIN.encode(), PUK.encode(),
           RELAY_MASTER, AGENT_MASTER]


def credentials(work, name, key):
    """A directory as systemd's LoadCredential= makes it, holding master.key."""
    creds = os.path.join(work, name + "-credentials")
    os.mkdir(creds, 0o700)
    path = os.path.join(creds, "master.key")
    with open(path, "wb") as f:
        f.write(key)
    os.chmod(path, 0o600)
    return creds


def management_key(env):
    """The management key the agent's set-up stored PIN-protected on the card (ykman's scheme:
    printed object 5FC109 = 88 { 89 key }), read with raw APDUs; the PIN goes to the PC/SC
    client on its stdin, never on a command line."""
    pin = PIN.encode().ljust(8, b"\xff")
    answers = []
    for _ in range(5):  # the agent shares the card and may select another applet meanwhile
        with env.session(0) as s:
            answers = [s.transmit(bytes.fromhex("00a4040005a000000308")),
                       s.transmit(bytes.fromhex("0020008008") + pin),
                       s.transmit(bytes.fromhex("00cb3fff055c035fc109"))]
        if all(a[-2:] == b"\x90\x00" for a in answers):
            break
        assert answers[1][-2] != 0x63, "the card refused the PIN"  # never retried: it blocks
    assert all(a[-2:] == b"\x90\x00" for a in answers), \
        f"reading the protected management key: {[a[-2:].hex() for a in answers]}"
    resp = answers[-1]
    data = resp[:-2]
    at = data.find(b"\x89")
    assert at > 0 and data[at + 1] in (16, 24, 32), f"no management key in {data.hex()}"
    key = data[at + 2:at + 2 + data[at + 1]]
    assert key != bytes.fromhex("010203040506070801020304050607080102030405060708"), \
        "the card still has the factory management key"
    return key


def hsm_root(rc, ac, serial, work, watch):
    """An HSM root CA made on the relay and provisioned on slot 9c through the agent's wizard
    (enrolment with the provisioning certificate's one-time token); the active CA and the
    token."""
    r = rc.post("/api/v1/cas", {"name": "Secrets HSM Root", "type": "root", "key_type": "HSM",
                                "subject": {"CN": "Secrets HSM Root", "O": "Example"},
                                "validity_days": 3650, "path_len": 0})
    assert r.status == 201, (r.status, r.body)
    ca = r.json()
    template = ca["provisioning_certificate"]
    ext = provcert.parse(template)
    token = ext["token"].encode()
    assert len(token) >= 16, ext
    watch.secrets.append(token)
    expect(ac.post(f"/api/keys/{serial}/slots/9c/generate",
                   {"pin": PIN, "algorithm": "ec-p256", "pin_policy": "once"}), 200)
    res = expect(ac.post(f"/api/keys/{serial}/slots/9c/provision",
                         {"pin": PIN, "template": template}), 200).json()
    assert res["state"] == "confirm_relay", res
    res = expect(ac.post(f"/api/keys/{serial}/slots/9c/provision",
                         {"pin": PIN, "template": template,
                          "confirm_fingerprint": ext["fingerprint"].hex()}), 200).json()
    assert res["state"] == "provisioned", res
    # The slot's key wants the PIN (policy "once"): the appliance keeps it for link signatures
    # once unlocked in its UI.
    expect(ac.post(f"/api/keys/{serial}/unlock", {"pin": PIN}), 200)
    assert keys(ac)[serial]["signing_unlocked"] is True
    r = rc.post(f"/api/v1/cas/{ca['id']}/certificate", {"certificate_pem": res["certificate"]})
    assert r.status == 200, (r.status, r.body)
    ca = rc.get(f"/api/v1/cas/{ca['id']}").json()
    assert ca["status"] == "active", ca
    return ca, token


def issue_and_revoke(rc, ca, work):
    """A leaf signed on the card over the link, revoked; its CRL and OCSP answers (also signed
    on the card) verified with openssl."""
    root = relaytest.write(work, "root.pem",
                           rc.get(f"/api/v1/cas/{ca['id']}/certificate").body.decode())
    tpl = next(t for t in rc.get(f"/api/v1/cas/{ca['id']}/templates").json()["templates"]
               if t["name"] == "Web Server")
    _, csr = relaytest.make_csr(work, "leaf", "/CN=leaf.example.com", ("DNS:leaf.example.com",))
    r = rc.post(f"/api/v1/templates/{tpl['id']}/requests", {"csr": csr})
    assert r.status == 201, (r.status, r.body)
    r = rc.post(f"/api/v1/requests/{r.json()['id']}/approve", {})
    assert r.status == 200, (r.status, r.body)
    cert = r.json()["certificate"]
    leaf = relaytest.write(work, "leaf.pem", cert["pem"])
    out = relaytest.openssl("verify", "-x509_strict", "-CAfile", root, leaf).stdout
    assert ": OK" in out, out
    r = rc.post(f"/api/v1/certificates/{cert['id']}/revoke", {"reason": "keyCompromise"})
    assert r.status == 200, (r.status, r.body)
    crl = relaytest.write(work, "ca.crl", pkitest.http("GET", ca["urls"]["crl"]).body)
    out = relaytest.openssl("crl", "-inform", "DER", "-in", crl, "-CAfile", root, "-verify",
                            "-noout", "-text")
    assert "verify OK" in out.stdout + out.stderr, out.stderr
    serial = format(x509.load_pem_x509_certificate(cert["pem"].encode()).serial_number, "X")
    listed = [m.lstrip("0") for m in re.findall(r"Serial Number: ([0-9A-F]+)", out.stdout)]
    assert serial.lstrip("0") in listed, (serial, out.stdout)
    out = relaytest.openssl("ocsp", "-issuer", root, "-cert", leaf, "-url", ca["urls"]["ocsp"],
                            "-CAfile", root, "-resp_text")
    assert "Response verify OK" in out.stdout + out.stderr, out.stderr
    assert ": revoked" in out.stdout, out.stdout


def run(work, watch):
    """The whole run inside the watch; returns {name: (output, state hits)} of both daemons."""
    relay_creds = credentials(work, "relay", RELAY_MASTER)
    agent_creds = credentials(work, "agent", AGENT_MASTER)
    extra = 'public_http = {{ listen = "127.0.0.1"; port = %d; }};\n' % pkitest.free_port()
    found = {}
    with PcscEnv(n_keys=1) as env, \
            relaytest.relay(extra, env={"CREDENTIALS_DIRECTORY": relay_creds}) as r:
        add = relaytest.relay_cmd(r, "user", "add", "--admin", RELAY_ADMIN,
                                  input=RELAY_PASSWORD + "\n",
                                  env={"CREDENTIALS_DIRECTORY": relay_creds})
        assert add.returncode == 0, add.stderr
        user_add_output = add.stdout + add.stderr
        rc = relaytest.logged_in(r, RELAY_ADMIN, RELAY_PASSWORD)
        # The one credential a daemon logs by design (docs/design.md): the relay's first-start
        # set-up link. It must be dead once an administrator exists.
        m = re.search(r"/setup#token=([A-Za-z0-9_-]+)", r.output())
        assert m, f"no set-up link logged:\n{r.output()}"
        late = pkitest.http("POST", r.url + "/api/v1/setup",
                            body={"token": m.group(1), "name": "intruder", "password": "x" * 16})
        assert late.status == 403 and late.json()["error"]["code"] == "setup_closed", \
            f"the logged set-up link still works: {late.status} {late.body!r}"
        a = agent(extra=linktest.AGENT_LINK + 'log_level = "debug";\n', password=AGENT_PASSWORD,
                  env=dict(env.env, CREDENTIALS_DIRECTORY=agent_creds))
        with a:
            ac = Client(a.url)
            ac.login(AGENT_PASSWORD)
            serial = env.serials[0]
            wait_key(ac, serial)
            set_up(ac, serial, pin=PIN, puk=PUK)
            watch.secrets.append(management_key(env))
            ca, _ = hsm_root(rc, ac, serial, work, watch)
            issue_and_revoke(rc, ca, work)
            signed = [e for e in ac.get("/api/audit").json() if e.get("event") == "link.sign"]
            assert signed, "the appliance's audit shows no signature for the relay"
            # The agent's own wizard, too: a self-signed CA on another slot.
            expect(ac.post(f"/api/keys/{serial}/slots/9d/generate",
                           {"pin": PIN, "algorithm": "ec-p256"}), 200)
            res = expect(ac.post(f"/api/keys/{serial}/slots/9d/provision",
                                 {"pin": PIN, "template": make_template(work),
                                  "mode": "self-signed"}), 200)
            assert "BEGIN CERTIFICATE" in res.json()["certificate"]
            expect(ac.post(f"/api/keys/{serial}/verify-pin", {"pin": PIN}), 200)
            # Stopped here so that their last words are searched too (the with-blocks remove
            # their directories once they are left without an error).
            assert a.stop() == 0, a.output()
            found["iothsm-agent"] = (a.output(), scan_tree(a.state_dir, watch.secrets))
        assert r.stop() == 0, r.output()
        found["pki-relay"] = (user_add_output + r.output(), scan_tree(r.state_dir, watch.secrets))
    return found


def positive_control(secret):
    """The checkers can fail: a secret in a command line, an environment, a log line and a
    state file is caught."""
    with ProcWatcher([secret]) as probe:
        pkitest.run(["sh", "-c", "sleep 0.3", "sh", secret.hex()])
        pkitest.run(["sh", "-c", "sleep 0.3"], env=dict(os.environ, PROBE=secret.hex()))
    whats = {h[1] for h in probe.hits}
    assert whats == {"cmdline", "environ"}, f"the /proc watcher missed a secret: {probe.hits}"
    assert scan_text("log: " + secret.hex(), [secret]), "scan_text missed a secret"
    top = tempfile.mkdtemp(prefix="ops-secrets-probe-")
    try:
        with open(os.path.join(top, "f"), "wb") as f:
            f.write(b"\x00" + secret + b"\x00")
        assert scan_tree(top, [secret]), "scan_tree missed a secret"
    finally:
        shutil.rmtree(top, ignore_errors=True)


def main():
    os.environ.pop("JOURNAL_STREAM", None)  # the daemons log to stderr, where this test reads
    work = tempfile.mkdtemp(prefix="ops-secrets-prov-")
    ok = False
    try:
        with ProcWatcher(SECRETS) as watch:
            found = run(work, watch)
        names = ["relay admin password", "agent admin password", "PIN", "PUK",
                 "relay master key", "agent master key", "enrolment token", "management key"]
        assert len(watch.secrets) == len(names), watch.secrets
        print(f"/proc scanned {watch.scans} times, {len(watch.pids_seen)} processes seen, "
              f"{len(watch.secrets)} secrets: {', '.join(names)}")
        assert watch.scans > 10, "the /proc watcher hardly ran"
        assert not watch.hits, f"a secret showed in /proc: {watch.hits}"
        # The agent's log level really was debug (its link client logs its connects there).
        assert "debug: link: connecting" in found["iothsm-agent"][0], found["iothsm-agent"][0]
        for name, (log, hits_state) in found.items():
            assert "ERROR: AddressSanitizer" not in log, log
            hits = scan_text(log, watch.secrets)
            assert not hits, f"{name} logged a secret ({hits}):\n{log}"
            assert not hits_state, f"{name} stored a secret in clear: {hits_state}"
            print(f"{name}: {len(log.splitlines())} log lines, state files searched, no secret")
        positive_control(hashlib.sha256(PIN.encode()).digest())
        ok = True
        print("ok: passwords, master keys, enrolment token, PIN, PUK and management key stayed "
              "out of argv, environments, logs and state through provisioning and signing")
    finally:
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            sys.stderr.write(f"kept {work}\n")


if __name__ == "__main__":
    main()
