"""Helpers for the appliance-link tests: a relay and an agent on loopback, an admin session on
the relay, enrolment of the agent with a one-time token."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("PKI_SOURCE_DIR", "."), "tests", "relay"))
sys.path.insert(0, os.path.join(os.environ.get("PKI_SOURCE_DIR", "."), "tests", "agent"))

import datetime  # noqa: E402

import agentlib  # noqa: E402
import relaytest  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

ADMIN, ADMIN_PW = "admin", "link test password 1"

AGENT_LINK = """
link = {{
  tls_verify = false;
  ping_ms = 2000;
  dead_ms = 8000;
  max_backoff_ms = 2000;
}};
"""


def relay(state_dir, port=None):
    """A relay Daemon on state_dir (kept across restarts), optionally on a fixed port."""
    d = relaytest.relay(state_dir=state_dir)
    if port:
        d.port = port
        with open(d.config_path, "w") as f:
            f.write(relaytest.BASE_CONFIG.format(port=port, state_dir=state_dir, dir=d.dir))
    return d


def admin(d, first=True):
    if first:
        relaytest.add_user(d, ADMIN, ADMIN_PW, admin=True)
    return relaytest.logged_in(d, ADMIN, ADMIN_PW)


def agent(extra=AGENT_LINK, env=None):
    return agentlib.agent(extra, env=env)


def agent_client(a):
    c = agentlib.Client(a.url)
    c.login()
    return c


def wait_for(fn, timeout=20, what="condition", step=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(step)


def token(rc, **body):
    r = rc.post("/api/v1/appliances/enrolment-tokens", body)
    assert r.status == 201, (r.status, r.body)
    return r.json()


def enrol(ac, tok):
    return ac.post("/api/link/enrol", {"link_url": tok["link_url"], "token": tok["token"],
                                       "relay_fingerprint": tok["relay_fingerprint"]})


def appliances(rc):
    r = rc.get("/api/v1/appliances")
    assert r.status == 200, (r.status, r.body)
    return {a["name"]: a for a in r.json()["appliances"]}


def link_state(ac):
    r = ac.get("/api/link")
    assert r.status == 200, (r.status, r.body)
    return r.json()


def enrol_online(ac, rc):
    """Enrols the agent with a fresh token and waits until the relay shows it online; its name."""
    r = enrol(ac, token(rc))
    assert r.status == 200, (r.status, r.body)
    device = r.json()["device"]
    wait_for(lambda: appliances(rc).get(device, {}).get("online"), what="appliance online")
    return device


def self_signed_ca(ac, serial, work, cn=None, slot="9c", pin_policy="never"):
    """A P-256 key generated in slot and a self-signed CA certificate for it, through the
    agent's provisioning API; the certificate."""
    agentlib.expect(ac.post(f"/api/keys/{serial}/slots/{slot}/generate",
                            {"pin": agentlib.PIN, "algorithm": "ec-p256",
                             "pin_policy": pin_policy}), 200)
    template = agentlib.make_template(work, cn=cn) if cn else agentlib.make_template(work)
    res = agentlib.expect(ac.post(f"/api/keys/{serial}/slots/{slot}/provision",
                                  {"pin": agentlib.PIN, "template": template,
                                   "mode": "self-signed"}), 200)
    return x509.load_pem_x509_certificate(res.json()["certificate"].encode())


def pub_pem(cert):
    """A certificate's SubjectPublicKeyInfo as PEM (the signature API's public_key)."""
    return cert.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def tbs_crl(issuer, key_id=None):
    """The TBSCertList of a CRL by issuer (one revoked serial), optionally with an authority key
    identifier: what the relay asks an appliance to sign."""
    k = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    b = x509.CertificateRevocationListBuilder()
    if key_id is not None:
        b = b.add_extension(x509.AuthorityKeyIdentifier(key_id, None, None), False)
    crl = (b.issuer_name(issuer)
           .last_update(now).next_update(now + datetime.timedelta(days=1))
           .add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(4242)
                                    .revocation_date(now).build())
           .sign(k, hashes.SHA256()))
    return crl.tbs_certlist_bytes
