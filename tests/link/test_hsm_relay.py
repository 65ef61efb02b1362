"""HSM CAs on the relay (hsm-contract §1-2), checked from outside: an HSM root and an HSM
intermediate are created in state awaiting_appliance with a provisioning certificate that
python3-cryptography verifies against the relay's link certificate (GET
/api/v1/link/certificate), carrying the CA's template and our critical extension with every
field right; openssl refuses the certificate for its critical extension; each download gives a
new one-time token and the earlier one stops working (shown with a real iothsm-agent enrolling
through its three-value API); other CAs answer 409 not_hsm; import is refused while no appliance
offered the key.

Debian's python3-cryptography (38) refuses to load a certificate with a 128-bit OID arc at all,
so the certificate is walked by hand here; python3-cryptography checks the signature and openssl
reads the whole certificate on its own."""
import datetime
import hashlib
import os
import ssl
import tempfile
import time
import unittest

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

import linktest
import relaytest

PROV_OID = "2.25.121939985752823855590338856841221336458"


def der_items(data):
    """The elements of a DER region as (tag, contents) pairs (definite lengths only)."""
    out, i = [], 0
    while i < len(data):
        tag, n = data[i], data[i + 1]
        i += 2
        if n & 0x80:
            k = n & 0x7F
            n = int.from_bytes(data[i:i + k], "big")
            i += k
        out.append((tag, data[i:i + n]))
        i += n
    assert i == len(data), "trailing bytes"
    return out


def oid_text(body):
    """Dotted text of OID contents (any arc size)."""
    arcs, v = [], 0
    for b in body:
        v = (v << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(v)
            v = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(map(str, [first, arcs[0] - 40 * first] + arcs[1:]))


def parse_cert(der):
    """A certificate walked by hand: Debian's python3-cryptography (38) refuses to load any
    certificate with a 128-bit OID arc, so the structure is read here, the signature is checked
    with python3-cryptography and openssl reads the whole certificate independently."""
    (tag, cert), = der_items(der)
    assert tag == 0x30
    (t1, tbs), (t2, _alg), (t3, sig) = der_items(cert)
    assert (t1, t2, t3) == (0x30, 0x30, 0x03) and sig[0] == 0
    tbs_der = der_items(cert)[0]
    items = der_items(tbs)
    assert items[0][0] == 0xA0  # v3
    raw = []  # the raw DER of each TBS element, for byte comparisons
    i = 0
    while i < len(tbs):
        n = tbs[i + 1]
        h = 2 + (n & 0x7F if n & 0x80 else 0)
        ln = int.from_bytes(tbs[i + 2:i + h], "big") if n & 0x80 else n
        raw.append(tbs[i:i + h + ln])
        i += h + ln
    exts = {}
    (t, ext_seq), = der_items(items[7][1])
    for tag, e in der_items(ext_seq):
        parts = der_items(e)
        oid = oid_text(parts[0][1])
        critical = len(parts) == 3 and parts[1] == (0x01, b"\xff")
        exts[oid] = (critical, parts[-1][1])
    # the TBS bytes as signed: its whole element
    tbs_raw = cert[:len(cert) - len(der_items(cert)[1][1]) - len(sig) - 4]
    return {"tbs": tbs_raw, "signature": sig[1:], "issuer": raw[3], "validity": items[4][1],
            "subject": raw[5], "spki": raw[6], "extensions": exts}


def provisioning_fields(der):
    """Our extension's value decoded by hand: the IothsmProvisioning fields by name, and
    whether the extension is critical."""
    critical, value = parse_cert(der)["extensions"][PROV_OID]
    (tag, body), = der_items(value)
    assert tag == 0x30, hex(tag)
    items = der_items(body)
    assert [t for t, _ in items] == [0x02, 0x16, 0x0C, 0x0A, 0x0C, 0x18, 0x04], items
    version, url, ca_id, kind, token, expires, fp = [v for _, v in items]
    return critical, {
        "version": int.from_bytes(version, "big"),
        "link_url": url.decode("ascii"),
        "ca_id": ca_id.decode(),
        "ca_kind": int.from_bytes(kind, "big"),
        "token": token.decode(),
        "token_expires": datetime.datetime.strptime(expires.decode(), "%Y%m%d%H%M%SZ")
        .replace(tzinfo=datetime.timezone.utc),
        "relay_fingerprint": fp,
    }


def pem_der(pem):
    return ssl.PEM_cert_to_DER_cert(pem if isinstance(pem, str) else pem.decode())


class HsmRelay(unittest.TestCase):
    def setUp(self):
        self.relay = linktest.relay(relaytest.new_state_dir(self))
        self.relay.start()
        self.addCleanup(self.relay.stop)
        self.rc = linktest.admin(self.relay)
        pem = relaytest.Client(self.relay).get("/api/v1/link/certificate")
        self.assertEqual(pem.status, 200, pem.body)
        self.link_pem = pem.body
        self.link_cert = x509.load_pem_x509_certificate(pem.body)
        self.link_der = ssl.PEM_cert_to_DER_cert(pem.body.decode())
        self.tmp = tempfile.mkdtemp(prefix="hsm-relay-")
        self.addCleanup(lambda: __import__("shutil").rmtree(self.tmp, True))

    def create(self, **body):
        r = self.rc.post("/api/v1/cas", dict({"key_type": "HSM"}, **body))
        self.assertEqual(r.status, 201, r.body)
        return r.json()

    def check_provisioning(self, pem, ca, kind, subject, days, path_len):
        der = pem_der(pem)
        c = parse_cert(der)
        # Signed by the relay's link key (python3-cryptography checks the ECDSA signature over
        # the TBS bytes), named by its link certificate.
        self.link_cert.public_key().verify(c["signature"], c["tbs"], ec.ECDSA(hashes.SHA256()))
        self.assertEqual(c["issuer"], self.link_cert.subject.public_bytes())
        # The template: subject, validity, CA extensions; the link key as a placeholder.
        self.assertEqual(c["spki"], self.link_cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
        exts = c["extensions"]
        self.assertTrue(exts["2.5.29.19"][0], "basicConstraints critical")
        bc = der_items(der_items(exts["2.5.29.19"][1])[0][1])
        self.assertEqual(bc[0], (0x01, b"\xff"))
        self.assertEqual(int.from_bytes(bc[1][1], "big") if len(bc) > 1 else None, path_len)
        # openssl reads the same certificate on its own.
        path = os.path.join(self.tmp, "prov.pem")
        link = os.path.join(self.tmp, "link.pem")
        with open(path, "w") as fh:
            fh.write(pem if isinstance(pem, str) else pem.decode())
        with open(link, "wb") as fh:
            fh.write(self.link_pem)
        text = relaytest.openssl("x509", "-in", path, "-noout", "-text").stdout
        self.assertIn(PROV_OID + ": critical", text)
        subj = relaytest.openssl("x509", "-in", path, "-noout", "-subject", "-nameopt",
                                 "RFC2253").stdout.strip()
        self.assertEqual(subj, "subject=" + subject)
        self.assertIn("CA:TRUE" + (f", pathlen:{path_len}" if path_len is not None else ""),
                      text)
        self.assertIn("Digital Signature, Certificate Sign, CRL Sign", text)
        self.assertIn("Signature Algorithm: ecdsa-with-SHA256", text)
        dates = relaytest.openssl("x509", "-in", path, "-noout", "-startdate", "-enddate",
                                  "-dateopt", "iso_8601").stdout.split("\n")
        nb = datetime.datetime.fromisoformat(dates[0].split("=", 1)[1].replace("Z", "+00:00"))
        na = datetime.datetime.fromisoformat(dates[1].split("=", 1)[1].replace("Z", "+00:00"))
        self.assertEqual(na - nb, datetime.timedelta(days=days))
        # Our extension, critical, every field.
        critical, f = provisioning_fields(der)
        self.assertTrue(critical)
        self.assertEqual(f["version"], 1)
        self.assertEqual(f["link_url"], f"wss://127.0.0.1:{self.relay.port}/link")
        self.assertEqual(f["ca_id"], str(ca["id"]))
        self.assertEqual(f["ca_kind"], kind)
        self.assertTrue(f["token"].startswith("enrol_") and len(f["token"]) > 40, f["token"])
        left = f["token_expires"] - datetime.datetime.now(datetime.timezone.utc)
        self.assertTrue(datetime.timedelta(days=6, hours=23) < left <= datetime.timedelta(days=7),
                        left)
        self.assertEqual(f["relay_fingerprint"], hashlib.sha256(self.link_der).digest())
        # No verifier accepts it: openssl stops at the critical extension it does not know.
        v = relaytest.openssl("verify", "-partial_chain", "-CAfile", link, path, check=False)
        self.assertNotEqual(v.returncode, 0, v.stdout)
        self.assertIn("unhandled critical extension", v.stdout + v.stderr)
        return f

    def test_create_root_and_intermediate(self):
        root = self.create(name="HSM Root", subject={"CN": "HSM Root", "O": "Test Org"},
                           validity_days=3650, path_len=1)
        self.assertEqual(root["key_type"], "hsm")
        self.assertEqual(root["status"], "awaiting_appliance")
        self.assertEqual(root["hsm"], {"offers": [], "targets": []})
        self.check_provisioning(root["provisioning_certificate"], root, 0,
                                "CN=HSM Root,O=Test Org", 3650, 1)

        inter = self.create(name="HSM Issuing", key_type="hsm", type="intermediate",
                            subject="/CN=HSM Issuing/O=Test Org", validity_days=730)
        self.check_provisioning(inter["provisioning_certificate"], inter, 1,
                                "O=Test Org,CN=HSM Issuing", 730, None)

        # The CA reads back with the same state and its (empty) hsm section; the list too.
        got = self.rc.get(f"/api/v1/cas/{root['id']}")
        self.assertEqual(got.status, 200, got.body)
        self.assertEqual(got.json()["status"], "awaiting_appliance")
        self.assertEqual(got.json()["hsm"], {"offers": [], "targets": []})
        self.assertNotIn("provisioning_certificate", got.json())
        cas = {c["name"]: c for c in self.rc.get("/api/v1/cas").json()["cas"]}
        self.assertEqual(cas["HSM Issuing"]["key_type"], "hsm")

        # Download again: the same template, a new token.
        r = self.rc.get(f"/api/v1/cas/{root['id']}/provisioning-certificate")
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(r.headers["Content-Type"].startswith("application/x-pem-file"))
        again = self.check_provisioning(r.body.decode(), root, 0, "CN=HSM Root,O=Test Org",
                                        3650, 1)
        first = provisioning_fields(pem_der(root["provisioning_certificate"]))[1]
        self.assertNotEqual(again["token"], first["token"])

        # Bad input: nothing is created.
        before = len(self.rc.get("/api/v1/cas").json()["cas"])
        relaytest.assert_error(self, self.rc.post("/api/v1/cas", {
            "name": "x", "key_type": "HSM", "type": "import"}), 400, "bad_field")
        relaytest.assert_error(self, self.rc.post("/api/v1/cas", {
            "name": "y", "key_type": "HSM", "subject": {"O": "no CN"}}), 400, "bad_field")
        relaytest.assert_error(self, self.rc.post("/api/v1/cas", {
            "name": "HSM Root", "key_type": "HSM", "subject": "/CN=dup"}), 409, "conflict")
        self.assertEqual(len(self.rc.get("/api/v1/cas").json()["cas"]), before)

    def test_not_hsm_and_import_without_offer(self):
        managed = self.rc.post("/api/v1/cas", {"name": "Managed", "key_type": "ec-p256",
                                               "subject": "/CN=Managed"})
        self.assertEqual(managed.status, 201, managed.body)
        self.assertNotIn("hsm", managed.json())
        relaytest.assert_error(
            self, self.rc.get(f"/api/v1/cas/{managed.json()['id']}/provisioning-certificate"),
            409, "not_hsm")
        relaytest.assert_error(self, self.rc.get("/api/v1/cas/999999/provisioning-certificate"),
                               404, "not_found")

        ca = self.create(name="HSM Root", subject="/CN=HSM Root")
        # No appliance offered anything: no certificate to take, and a certificate for some
        # other key is refused.
        r = self.rc.post(f"/api/v1/cas/{ca['id']}/certificate", {})
        relaytest.assert_error(self, r, 400, "missing_field")
        key = os.path.join(self.tmp, "k.pem")
        crt = os.path.join(self.tmp, "c.pem")
        relaytest.openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                          "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
                          "-subj", "/CN=HSM Root", "-days", "30",
                          "-addext", "basicConstraints=critical,CA:TRUE",
                          "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        with open(crt) as fh:
            r = self.rc.post(f"/api/v1/cas/{ca['id']}/certificate", {"certificate_pem": fh.read()})
        relaytest.assert_error(self, r, 400, "no_matching_slot")
        got = self.rc.get(f"/api/v1/cas/{ca['id']}").json()
        self.assertEqual(got["status"], "awaiting_appliance")

        # Deleting the CA takes its unspent token with it.
        r = self.rc.delete(f"/api/v1/cas/{ca['id']}?confirm=HSM%20Root")
        self.assertEqual(r.status, 204, r.body)

    def test_token_rotation_with_a_real_agent(self):
        ca = self.create(name="HSM Root", subject="/CN=HSM Root")
        old = provisioning_fields(pem_der(ca["provisioning_certificate"]))[1]
        r = self.rc.get(f"/api/v1/cas/{ca['id']}/provisioning-certificate")
        self.assertEqual(r.status, 200, r.body)
        new = provisioning_fields(pem_der(r.body))[1]
        self.assertNotEqual(old["token"], new["token"])

        def values(f):
            return {"link_url": f["link_url"], "token": f["token"],
                    "relay_fingerprint": f["relay_fingerprint"].hex()}

        with linktest.agent() as ag:
            ac = linktest.agent_client(ag)
            # The replaced token: the relay refuses it and says why.
            r = linktest.enrol(ac, values(old))
            self.assertEqual(r.status, 400, r.body)
            self.assertIn("replaced by a newer provisioning certificate",
                          r.json()["error"]["message"])
            self.assertEqual(linktest.appliances(self.rc), {})
            # The current one enrols the appliance, once.
            r = linktest.enrol(ac, values(new))
            self.assertEqual(r.status, 200, r.body)
            device = r.json()["device"]
            linktest.wait_for(lambda: linktest.appliances(self.rc).get(device, {}).get("online"),
                              what="appliance online")
            r = linktest.enrol(ac, values(new))
            self.assertEqual(r.status, 400, r.body)
            self.assertIn("already used", r.json()["error"]["message"])
        # A plain enrolment offers no slot: the CA still waits.
        got = self.rc.get(f"/api/v1/cas/{ca['id']}").json()
        self.assertEqual(got["status"], "awaiting_appliance")
        self.assertEqual(got["hsm"]["offers"], [])
        # The log never carries a token.
        for f in (old, new):
            self.assertNotIn(f["token"], self.relay.output())


if __name__ == "__main__":
    unittest.main(verbosity=2)
