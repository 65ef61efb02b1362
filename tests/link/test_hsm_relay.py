"""HSM CAs on the relay (hsm-contract §1-2), checked from outside: an HSM root and an HSM
intermediate are created in state awaiting_appliance with a provisioning certificate that
python3-cryptography verifies against the relay's link certificate (GET
/api/v1/link/certificate), carrying the CA's template and our critical extension with every
field right; openssl refuses the certificate for its critical extension; each download gives a
new one-time token and the earlier one stops working (shown with a real iothsm-agent enrolling
through its three-value API, which a provisioning token does not serve: it needs an offer); other CAs answer 409 not_hsm; import is refused while no appliance
offered the key. Offers come from a scripted appliance (linkpeer.py + link-peer, lib/link's own
envelope) so that what a real agent never sends can be sent: every bad offer is refused with
its reason and records nothing; a good one enrols the appliance; import makes the CA active and
the responder certificate, issued certificates and the CRL are signed over the link (verified
with openssl); an appliance gone gives 503 appliance_offline; more appliances and slots with the
key become more targets.

Debian's python3-cryptography (38) refuses to load a certificate with a 128-bit OID arc at all,
so the certificate is walked by hand here; python3-cryptography checks the signature and openssl
reads the whole certificate on its own."""
import base64
import datetime
import hashlib
import os
import ssl
import tempfile
import unittest

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

import linkpeer
import pkitest
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


def _pem(obj):
    return obj.public_bytes(serialization.Encoding.PEM).decode()


def make_cert(subject, key, issuer=None, issuer_key=None, ca=True):
    """A certificate made by python3-cryptography (the CA certificate an appliance would make
    on the YubiKey, an attestation pair, …)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name.from_rfc4514_string(subject)
    b = (x509.CertificateBuilder().subject_name(name)
         .issuer_name(x509.Name.from_rfc4514_string(issuer) if issuer else name)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5))
         .not_valid_after(now + datetime.timedelta(days=365)))
    if ca:
        b = (b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
             .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False,
                                          False), critical=True)
             .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                            critical=False))
    return b.sign(issuer_key or key, hashes.SHA256())


def make_csr_pem(subject, key):
    return _pem(x509.CertificateSigningRequestBuilder()
                .subject_name(x509.Name.from_rfc4514_string(subject))
                .sign(key, hashes.SHA256()))


def key_pem(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


class HsmRelay(unittest.TestCase):
    def setUp(self):
        self.relay = linktest.relay(relaytest.new_state_dir(self))
        self.relay.__enter__()
        # Leaving checks what `with` checks: exit status 0 on SIGTERM, no sanitizer report.
        self.addCleanup(self.relay.__exit__, None, None, None)
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
            # The current one is not spent on a plain enrolment (CA owners make these tokens,
            # so they enrol an appliance only together with a slot offer for their CA).
            r = linktest.enrol(ac, values(new))
            self.assertEqual(r.status, 400, r.body)
            self.assertIn("only with a slot offer", r.json()["error"]["message"])
            self.assertEqual(linktest.appliances(self.rc), {})
        got = self.rc.get(f"/api/v1/cas/{ca['id']}").json()
        self.assertEqual(got["status"], "awaiting_appliance")
        self.assertEqual(got["hsm"]["offers"], [])
        # ... and still good for an offer.
        peer = linkpeer.Peer(self.relay.port, self.link_der, self.tmp, "rot")
        self.addCleanup(peer.close)
        slot = ec.generate_private_key(ec.SECP256R1())
        kind, _, body = peer.request("enrol", {"token": new["token"], "ca_id": new["ca_id"],
                                               "slot": "11111111/9c", "public_key": key_pem(slot)})
        self.assertEqual((kind, body.get("offer")), ("enrolled", "accepted"), body)
        # Once.
        kind, _, body = peer.request("enrol", {"token": new["token"], "ca_id": new["ca_id"],
                                               "slot": "11111111/9d", "public_key": key_pem(slot)})
        self.assertEqual(kind, "error", body)
        self.assertIn("already used", body["message"])
        # The log never carries a token.
        for f in (old, new):
            self.assertNotIn(f["token"], self.relay.output())

    def test_offers_activation_and_signing_over_the_link(self):
        """What a real agent never sends is refused with a reason and records nothing; a good
        offer enrols the appliance and is shown; import makes the CA active with the link
        signer (the OCSP responder certificate, issuance and the CRL are signed by the
        "appliance"); an appliance gone fails issuance at once with 503 appliance_offline; a
        second appliance and a second slot with the same key become more targets."""
        ca = self.create(name="HSM Root", subject="/CN=HSM Root/O=Test Org", validity_days=365)
        other = self.create(name="Other HSM", subject="/CN=Other HSM")
        f = provisioning_fields(pem_der(ca["provisioning_certificate"]))[1]
        ca_id = f["ca_id"]
        slot = ec.generate_private_key(ec.SECP256R1())
        wrong = ec.generate_private_key(ec.SECP256R1())
        f9 = ec.generate_private_key(ec.SECP256R1())
        root = make_cert("CN=HSM Root,O=Test Org", slot)
        f9_cert = make_cert("CN=Yubico PIV Attestation f9", f9)
        att = make_cert("CN=YubiKey PIV Attestation 9c", slot, "CN=Yubico PIV Attestation f9",
                        f9, ca=False)
        att_wrong = make_cert("CN=YubiKey PIV Attestation 9c", slot,
                              "CN=Yubico PIV Attestation f9", wrong, ca=False)
        broken_csr = bytearray(pem_der_any(make_csr_pem("CN=HSM Root", slot)))
        broken_csr[-3] ^= 0x01  # inside the signature
        slot_key = os.path.join(self.tmp, "slot.pem")
        with open(slot_key, "wb") as fh:
            fh.write(slot.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))

        def offer(**kw):
            body = {"token": f["token"], "ca_id": ca_id, "slot": "12345678/9c",
                    "public_key": key_pem(slot), "certificate": _pem(root),
                    "attestation": [_pem(att), _pem(f9_cert)]}
            body.update(kw)
            return {k: v for k, v in body.items() if v is not None}

        plain = linktest.token(self.rc)["token"]
        refusals = [
            (dict(certificate=_pem(make_cert("CN=HSM Root", wrong))),
             "certificate: its key is not public_key"),
            (dict(certificate=None, csr=make_csr_pem("CN=HSM Root", wrong)),
             "csr: its key is not public_key"),
            (dict(certificate=None, csr=der_to_pem(bytes(broken_csr), "CERTIFICATE REQUEST")),
             "csr:"),
            (dict(attestation=[_pem(att_wrong), _pem(f9_cert)]), "not signed by the f9 key"),
            (dict(attestation=[_pem(f9_cert), _pem(f9_cert)]), "attested key is not public_key"),
            (dict(attestation=[_pem(att)]), "attestation: two PEM certificates"),
            (dict(slot="12345678/9z"), "slot:"),
            (dict(slot="12345678/9c,device:x/1/9c"), "slot:"),
            (dict(public_key="not a key"), "public_key:"),
            (dict(ca_id=str(other["id"])), "the token belongs to another CA"),
            (dict(ca_id="1 OR 1=1"), "ca_id:"),
            (dict(token=plain), "not from an HSM provisioning certificate"),
            (dict(token="enrol_" + "A" * 43), "unknown enrolment token"),
        ]
        a = linkpeer.Peer(self.relay.port, self.link_der, self.tmp, "a")
        self.addCleanup(a.close)
        for change, why in refusals:
            kind, _, body = a.request("enrol", offer(**change))
            self.assertEqual(kind, "error", (change, body))
            self.assertEqual(body["code"], "enrolment_refused", body)
            self.assertIn(why, body["message"], change)
        # Nothing was recorded and no token was spent.
        self.assertEqual(self.rc.get(f"/api/v1/cas/{ca['id']}").json()["hsm"]["offers"], [])
        self.assertEqual(linktest.appliances(self.rc), {})

        kind, _, body = a.request("enrol", offer())
        self.assertEqual(kind, "enrolled", body)
        device_cert = body.pop("device_certificate")
        self.assertEqual(body, {"device": a.name, "ca_id": ca_id, "offer": "accepted"})
        self.check_device_cert(device_cert, a)
        hsm = self.rc.get(f"/api/v1/cas/{ca['id']}").json()["hsm"]
        self.assertEqual(len(hsm["offers"]), 1, hsm)
        o = hsm["offers"][0]
        self.assertEqual((o["appliance"], o["slot"], o["attested"], o["online"], o["csr"]),
                         (a.name, "12345678/9c", True, True, None))
        self.assertEqual(pem_der_any(o["certificate"]), root.public_bytes(
            serialization.Encoding.DER))
        self.assertEqual(pem_der_any(o["public_key"]), pem_der_any(key_pem(slot)))
        self.assertEqual(hsm["targets"], [])
        self.assertIn(a.name, linktest.appliances(self.rc))
        # The token is spent: the (now enrolled) appliance cannot offer with it again.
        kind, _, body = a.request("enrol", offer(slot="12345678/9d"))
        self.assertEqual(kind, "error", body)
        self.assertIn("already used", body["message"])

        # Import: the offered certificate is taken; the responder certificate is signed by the
        # "appliance" over the link.
        with a.serving(slot_key) as seen:
            r = self.rc.post(f"/api/v1/cas/{ca['id']}/certificate", {})
            self.assertEqual(r.status, 200, r.body)
            active = r.json()
            self.assertEqual(active["status"], "active")
            self.assertEqual(active["hsm"]["targets"], [f"{a.name}/12345678/9c"])
            self.assertEqual(active["signature_algorithm"], "ecdsa-with-SHA256")
            self.assertTrue(seen and seen[0][:2] == (ca_id, "12345678/9c"), seen)
            n_activation = len(seen)

            # Issuance through a template of the CA, verified by openssl against the root: only
            # the slot key (the scripted appliance's) can have signed it. The relay may also
            # remake the CRL on its own meanwhile (every minute), so no exact counts.
            leaf = self.issue(ca)
            self.assertGreater(len(seen), n_activation, seen)
            # The CRL is signed over the link too, and verifies with the root.
            crl = pkitest_http(active["urls"]["crl"])
            self.assertEqual(crl.status, 200, crl.body)
            crl_path = os.path.join(self.tmp, "ca.crl")
            with open(crl_path, "wb") as fh:
                fh.write(crl.body)
            v = relaytest.openssl("crl", "-inform", "DER", "-in", crl_path, "-CAfile",
                                  self.root_path, "-noout")
            self.assertIn("verify OK", v.stdout + v.stderr)
            served_crl = crl.body
            leaf_r = self.submit_and_approve(ca)
            self.assertEqual(leaf_r.status, 200, leaf_r.body)
            leaf_id = leaf_r.json()["certificate"]["id"]
        self.assertTrue(leaf)

        # The appliance goes away: issuance and responder renewal fail at once, with the
        # link signer's own status.
        a.close()
        linktest.wait_for(lambda: not self.rc.get(f"/api/v1/cas/{ca['id']}").json()["hsm"]
                          ["offers"][0]["online"], what="appliance offline on the relay")
        r = self.submit_and_approve(ca)  # 503 appliance_offline, not 504 timeout: at once
        relaytest.assert_error(self, r, 503, "appliance_offline")
        r = self.rc.post(f"/api/v1/cas/{ca['id']}/ocsp-certificate")
        relaytest.assert_error(self, r, 503, "appliance_offline")
        # A revocation while the appliance is away: the revocation is recorded, and the CRL URL
        # keeps serving the last CRL (valid until its nextUpdate) instead of failing.
        r = self.rc.post(f"/api/v1/certificates/{leaf_id}/revoke", {"reason": "keyCompromise"})
        self.assertEqual(r.status, 200, r.body)
        crl = pkitest_http(active["urls"]["crl"])
        self.assertEqual(crl.status, 200, crl.body)
        self.assertEqual(crl.body, served_crl)
        self.assertIn("serving the previous CRL", self.relay.output())

        # A second appliance with the same (imported) key: one more target, and it signs.
        r = self.rc.get(f"/api/v1/cas/{ca['id']}/provisioning-certificate")
        tok_b = provisioning_fields(pem_der(r.body))[1]["token"]
        b = linkpeer.Peer(self.relay.port, self.link_der, self.tmp, "b")
        self.addCleanup(b.close)
        kind, _, body = b.request("enrol", offer(token=tok_b, slot="87654321/9c",
                                                 certificate=None, attestation=None))
        self.assertEqual((kind, body.get("offer")), ("enrolled", "accepted"), body)
        with b.serving(slot_key) as seen_b:
            self.assertTrue(self.issue(ca))
            self.assertEqual(seen_b[-1][:2], (ca_id, "87654321/9c"))
        # The first appliance, back and already enrolled, now signing with the device
        # certificate the relay issued it, offers the key in a second slot.
        a.adopt(device_cert)
        a.connect()
        r = self.rc.get(f"/api/v1/cas/{ca['id']}/provisioning-certificate")
        tok_a2 = provisioning_fields(pem_der(r.body))[1]["token"]
        kind, _, body = a.request("enrol", offer(token=tok_a2, slot="12345678/82",
                                                 attestation=None))
        self.assertEqual((kind, body.get("offer")), ("enrolled", "accepted"), body)
        targets = self.rc.get(f"/api/v1/cas/{ca['id']}").json()["hsm"]["targets"]
        self.assertEqual(sorted(targets), sorted([f"{a.name}/12345678/9c",
                                                  f"{b.name}/87654321/9c",
                                                  f"{a.name}/12345678/82"]))
        # Tokens never reach the log.
        for t in (f["token"], tok_b, tok_a2):
            self.assertNotIn(t, self.relay.output())

        # Everything is kept: after a restart the CA signs through its appliances again.
        a.close()
        b.close()
        self.assertEqual(self.relay.stop(), 0, self.relay.output())
        self.assertNotIn("ERROR: AddressSanitizer", self.relay.output())
        self.relay.start()
        self.rc = linktest.admin(self.relay, first=False)
        b.connect()
        b.send("ping", b"")
        got = linktest.wait_for(
            lambda: (lambda j: j["status"] == "active" and any(
                o["online"] and o["appliance"] == b.name for o in j["hsm"]["offers"]) and j)(
                self.rc.get(f"/api/v1/cas/{ca['id']}").json()), what="appliance b back")
        self.assertEqual(len(got["hsm"]["targets"]), 3)
        with b.serving(slot_key) as seen_b:
            self.assertTrue(self.issue(ca))
            self.assertEqual(seen_b[-1][:2], (ca_id, "87654321/9c"))

    def test_intermediate_signed_by_a_managed_root(self):
        """An HSM intermediate: the appliance offers a CSR made with the slot key; the relay
        serves it as the CA's CSR; the operator has a managed root on the relay sign it through
        a CA template; import finds the chain among the user's CAs and makes the CA active (its
        responder certificate signed over the link); a leaf it issues verifies with openssl up
        to the managed root."""
        managed = self.rc.post("/api/v1/cas", {"name": "Root", "key_type": "ec-p256",
                                               "subject": "/CN=Managed Root/O=Test Org"})
        self.assertEqual(managed.status, 201, managed.body)
        managed = managed.json()
        tpl = self.rc.post(f"/api/v1/cas/{managed['id']}/templates",
                           {"name": "Intermediates", "starter": "Certificate Authority"})
        self.assertEqual(tpl.status, 201, tpl.body)
        inter = self.create(name="HSM Issuing", type="intermediate",
                            subject="/O=Test Org/CN=HSM Issuing", validity_days=730)
        self.assertEqual(self.rc.get(f"/api/v1/cas/{inter['id']}/csr").status, 409)
        f = provisioning_fields(pem_der(inter["provisioning_certificate"]))[1]
        self.assertEqual(f["ca_kind"], 1)
        slot = ec.generate_private_key(ec.SECP384R1())
        csr = make_csr_pem("CN=HSM Issuing,O=Test Org", slot)
        slot_key = os.path.join(self.tmp, "slot384.pem")
        with open(slot_key, "wb") as fh:
            fh.write(slot.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))
        p = linkpeer.Peer(self.relay.port, self.link_der, self.tmp, "i")
        self.addCleanup(p.close)
        kind, _, body = p.request("enrol", {"token": f["token"], "ca_id": f["ca_id"],
                                            "slot": "23456789/9a", "public_key": key_pem(slot),
                                            "csr": csr})
        self.assertEqual((kind, body.get("offer")), ("enrolled", "accepted"), body)
        o = self.rc.get(f"/api/v1/cas/{inter['id']}").json()["hsm"]["offers"][0]
        self.assertEqual((o["certificate"], o["attested"]), (None, False))
        # The CA's CSR is the appliance's.
        got = self.rc.get(f"/api/v1/cas/{inter['id']}/csr")
        self.assertEqual(got.status, 200, got.body)
        self.assertEqual(pem_der_any(got.body.decode()), pem_der_any(csr))
        # Nothing to take without a certificate.
        relaytest.assert_error(self, self.rc.post(f"/api/v1/cas/{inter['id']}/certificate", {}),
                               400, "missing_field")
        r = self.rc.post(f"/api/v1/templates/{tpl.json()['id']}/requests",
                         {"csr": got.body.decode()})
        self.assertEqual(r.status, 201, r.body)
        r = self.rc.post(f"/api/v1/requests/{r.json()['id']}/approve", {})
        self.assertEqual(r.status, 200, r.body)
        signed = r.json()["certificate"]["pem"]
        # Its appliance away: activation fails at once with the signer's status and the CA
        # keeps waiting.
        p.close()
        linktest.wait_for(lambda: not self.rc.get(f"/api/v1/cas/{inter['id']}").json()["hsm"]
                          ["offers"][0]["online"], what="appliance offline on the relay")
        relaytest.assert_error(self, self.rc.post(f"/api/v1/cas/{inter['id']}/certificate",
                                                  {"certificate_pem": signed}),
                               503, "appliance_offline")
        got = self.rc.get(f"/api/v1/cas/{inter['id']}").json()
        self.assertEqual((got["status"], got["hsm"]["targets"]), ("awaiting_appliance", []))
        self.assertEqual(self.rc.get(f"/api/v1/cas/{inter['id']}/certificate").status, 409)
        p.connect()
        p.send("ping", b"")  # the relay knows who is on a connection from its first message
        linktest.wait_for(lambda: self.rc.get(f"/api/v1/cas/{inter['id']}").json()["hsm"]
                          ["offers"][0]["online"], what="appliance back online")
        with p.serving(slot_key) as seen:
            a = self.rc.post(f"/api/v1/cas/{inter['id']}/certificate",
                             {"certificate_pem": signed})
            self.assertEqual(a.status, 200, a.body)
            self.assertEqual(a.json()["status"], "active")
            self.assertEqual(a.json()["signature_algorithm"], "ecdsa-with-SHA384")
            self.assertEqual(seen[0], (f["ca_id"], "23456789/9a", "ecdsa-with-SHA384"))
            tpls = self.rc.get(f"/api/v1/cas/{inter['id']}/templates").json()["templates"]
            web = next(t for t in tpls if t["name"] == "Web Server")
            _, leaf_csr = relaytest.make_csr(self.tmp, "leaf2", "/CN=app.example.com",
                                             ("DNS:app.example.com",))
            q = self.rc.post(f"/api/v1/templates/{web['id']}/requests", {"csr": leaf_csr})
            self.assertEqual(q.status, 201, q.body)
            leaf = self.rc.post(f"/api/v1/requests/{q.json()['id']}/approve", {})
            self.assertEqual(leaf.status, 200, leaf.body)
        paths = {}
        for name, text in (("leaf", leaf.json()["certificate"]["pem"]),
                           ("chain", self.rc.get(f"/api/v1/cas/{inter['id']}/chain").body.decode()),
                           ("root",
                            self.rc.get(f"/api/v1/cas/{managed['id']}/certificate").body.decode())):
            paths[name] = os.path.join(self.tmp, f"i-{name}.pem")
            with open(paths[name], "w") as fh:
                fh.write(text)
        v = relaytest.openssl("verify", "-x509_strict", "-CAfile", paths["root"], "-untrusted",
                              paths["chain"], paths["leaf"], check=False)
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)

    def check_device_cert(self, pem, peer):
        """The relay's certificate for the appliance's device key: issued by the link
        certificate, signed with the link key, CN = the device name, the device's own key,
        an end-entity certificate for signing and key agreement."""
        cert = x509.load_pem_x509_certificate(pem.encode())
        self.assertEqual(cert.issuer, self.link_cert.subject)
        self.link_cert.public_key().verify(cert.signature, cert.tbs_certificate_bytes,
                                           ec.ECDSA(hashes.SHA256()))
        self.assertEqual(cert.subject.rfc4514_string(), f"CN={peer.name}")
        with open(os.path.join(peer.dir, "device.crt"), "rb") as fh:
            own = x509.load_der_x509_certificate(fh.read())
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        self.assertEqual(cert.public_key().public_bytes(serialization.Encoding.DER, spki),
                         own.public_key().public_bytes(serialization.Encoding.DER, spki))
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        self.assertTrue(ku.digital_signature and ku.key_agreement and not ku.key_cert_sign)
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        self.assertFalse(bc.ca)
        self.assertGreater(cert.not_valid_after, datetime.datetime.utcnow()
                           + datetime.timedelta(days=365))

    def submit_and_approve(self, ca):
        tpls = self.rc.get(f"/api/v1/cas/{ca['id']}/templates").json()["templates"]
        web = next(t for t in tpls if t["name"] == "Web Server")
        _, csr = relaytest.make_csr(self.tmp, "leaf", "/CN=www.example.com",
                                    ("DNS:www.example.com",))
        r = self.rc.post(f"/api/v1/templates/{web['id']}/requests", {"csr": csr})
        self.assertEqual(r.status, 201, r.body)
        return self.rc.post(f"/api/v1/requests/{r.json()['id']}/approve", {})

    def issue(self, ca):
        r = self.submit_and_approve(ca)
        self.assertEqual(r.status, 200, r.body)
        leaf = os.path.join(self.tmp, "leaf.pem")
        with open(leaf, "w") as fh:
            fh.write(r.json()["certificate"]["pem"])
        got = self.rc.get(f"/api/v1/cas/{ca['id']}/certificate")
        self.root_path = os.path.join(self.tmp, "root.pem")
        with open(self.root_path, "wb") as fh:
            fh.write(got.body)
        v = relaytest.openssl("verify", "-x509_strict", "-CAfile", self.root_path, leaf,
                              check=False)
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        return True



def pem_der_any(pem):
    """DER of the first PEM block, whatever its label."""
    body = "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))
    return base64.b64decode(body)


def der_to_pem(der, label):
    b64 = base64.b64encode(der).decode()
    return (f"-----BEGIN {label}-----\n"
            + "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64))
            + f"\n-----END {label}-----\n")


def pkitest_http(url):
    return pkitest.http("GET", url)


if __name__ == "__main__":
    unittest.main(verbosity=2)
