"""Signing through the link on a virtual YubiKey (pcscd + vpcd + piv-sim): relay -> agent ->
piv-sim and back. A CRL and a certificate whose issuer is the slot's CA are signed, verified by
the relay against the CA key, and checked with openssl and python3-cryptography. Each hostile or
failing case is refused with its own error and nothing is signed: another issuer, a kind the
appliance's policy forbids, a public key that is not the slot's (the relay's own check), an
appliance that is not connected, a YubiKey that is not there."""
import base64
import datetime
import os
import sys
import tempfile
import threading
import time
import unittest

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

import linktest
import relaytest
from linktest import tbs_crl
from agentlib import set_up, wait_key
from pivsim import PcscEnv


def der_len(n):
    if n < 128:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def assemble(tbs, sig):
    """Certificate or CRL DER: SEQUENCE { tbs, ecdsa-with-SHA256, BIT STRING sig }."""
    alg = bytes.fromhex("300a06082a8648ce3d040302")
    bits = b"\x03" + der_len(len(sig) + 1) + b"\x00" + sig
    body = tbs + alg + bits
    return b"\x30" + der_len(len(body)) + body


def tbs_cert(issuer, ca_key_id):
    k = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().issuer_name(issuer)
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leaf.example")]))
            .public_key(k.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.AuthorityKeyIdentifier(ca_key_id, None, None), False)
            .sign(k, hashes.SHA256()))
    return cert.tbs_certificate_bytes


def key_hash(public_key):
    """An OCSP responder's byKey: SHA-1 of its subjectPublicKey (RFC 6960)."""
    h = hashes.Hash(hashes.SHA1())
    h.update(public_key.public_bytes(serialization.Encoding.X962,
                                     serialization.PublicFormat.UncompressedPoint))
    return h.finalize()


def tbs_ocsp(ca, responder_key):
    """OCSP ResponseData for a certificate of ca, the responder named byKey: responder_key's.
    python3-cryptography signs only with the responder's own key, so the response is made with
    a throwaway responder and its key hash then replaced (same length, still DER)."""
    k = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "throwaway responder")])
    throwaway = (x509.CertificateBuilder().issuer_name(name).subject_name(name)
                 .public_key(k.public_key()).serial_number(x509.random_serial_number())
                 .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
                 .sign(k, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().issuer_name(ca.subject)
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leaf.example")]))
            .public_key(k.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=30))
            .sign(k, hashes.SHA256()))
    resp = (ocsp.OCSPResponseBuilder()
            .add_response(cert=leaf, issuer=ca, algorithm=hashes.SHA1(),
                          cert_status=ocsp.OCSPCertStatus.GOOD, this_update=now,
                          next_update=now + datetime.timedelta(hours=1), revocation_time=None,
                          revocation_reason=None)
            .responder_id(ocsp.OCSPResponderEncoding.HASH, throwaway)
            .sign(k, hashes.SHA256()))
    tbs = resp.tbs_response_bytes
    by_key = b"\xa2\x16\x04\x14" + key_hash(k.public_key())
    assert tbs.count(by_key) == 1
    return tbs.replace(by_key, b"\xa2\x16\x04\x14" + key_hash(responder_key))


def tbs_csr():
    k = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")]))
           .sign(k, hashes.SHA256()))
    return csr.tbs_certrequest_bytes


class LinkSign(unittest.TestCase):
    def test_sign_through_the_appliance(self):
        work = tempfile.mkdtemp(prefix="link-sign-")
        state = relaytest.new_state_dir(self)
        with PcscEnv(n_keys=1) as env, linktest.relay(state) as r:
            rc = linktest.admin(r)
            ag = linktest.agentlib.agent(linktest.AGENT_LINK, env=env.env)
            with ag:
                ac = linktest.agent_client(ag)
                serial = env.serials[0]
                wait_key(ac, serial)
                set_up(ac, serial)
                ca = linktest.self_signed_ca(ac, serial, work)
                ca_pub_pem = linktest.pub_pem(ca)
                ca_file = os.path.join(work, "ca.pem")
                with open(ca_file, "wb") as f:
                    f.write(ca.public_bytes(serialization.Encoding.PEM))

                device = linktest.enrol_online(ac, rc)
                # The relay lists the appliance's YubiKey and its slots.
                keys = linktest.appliances(rc)[device]["keys"]
                self.assertEqual([k["serial"] for k in keys], [serial])

                def sign(tbs, pub=ca_pub_pem, appliance=device, slot=f"{serial}/9c", **kw):
                    body = {"appliance": appliance, "slot": slot, "ca_id": "ca-test",
                            "algorithm": "ecdsa-with-SHA256",
                            "tbs": base64.b64encode(tbs).decode(), "public_key": pub}
                    body.update(kw)
                    return rc.post("/api/v1/appliances/signature", body)

                # A CRL of the slot's CA: signed on the card, verified by the relay, by
                # python3-cryptography and by openssl.
                tbs = tbs_crl(ca.subject)
                t0 = time.monotonic()
                res = sign(tbs)
                took = time.monotonic() - t0
                self.assertEqual(res.status, 200, res.body)
                sig = base64.b64decode(res.json()["signature"])
                ca.public_key().verify(sig, tbs, ec.ECDSA(hashes.SHA256()))
                crl_file = os.path.join(work, "crl.der")
                with open(crl_file, "wb") as f:
                    f.write(assemble(tbs, sig))
                out = relaytest.openssl("crl", "-inform", "DER", "-in", crl_file, "-CAfile",
                                        ca_file, "-noout", "-text")
                self.assertIn("verify OK", out.stderr + out.stdout)
                print(f"CRL signed through relay -> agent -> piv-sim in {took * 1000:.0f} ms")

                # A certificate the CA issues.
                ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
                tbs = tbs_cert(ca.subject, ski.digest)
                res = sign(tbs)
                self.assertEqual(res.status, 200, res.body)
                cert = x509.load_der_x509_certificate(assemble(tbs, base64.b64decode(
                    res.json()["signature"])))
                ca.public_key().verify(cert.signature, cert.tbs_certificate_bytes,
                                       ec.ECDSA(hashes.SHA256()))
                leaf = os.path.join(work, "leaf.pem")
                with open(leaf, "wb") as f:
                    f.write(cert.public_bytes(serialization.Encoding.PEM))
                relaytest.openssl("verify", "-CAfile", ca_file, leaf)

                # Hostile and failing requests, each with its own error; nothing signed.
                other = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Another CA")])
                res = sign(tbs_crl(other))
                relaytest.assert_error(self, res, 403, "policy_refused")
                # The right issuer name, but another authority key (certificate and CRL).
                res = sign(tbs_cert(ca.subject, b"\x01" * 20))
                relaytest.assert_error(self, res, 403, "policy_refused")
                res = sign(tbs_crl(ca.subject, b"\x02" * 20))
                relaytest.assert_error(self, res, 403, "policy_refused")
                res = sign(tbs_crl(ca.subject, ski.digest))  # the right one is signed
                self.assertEqual(res.status, 200, res.body)
                res = sign(tbs_csr())  # the default policy signs certificates, CRLs, OCSP only
                relaytest.assert_error(self, res, 403, "policy_refused")
                # An OCSP response whose responder is named by key: the slot's key is signed,
                # another key is refused.
                tbs = tbs_ocsp(ca, ca.public_key())
                res = sign(tbs)
                self.assertEqual(res.status, 200, res.body)
                ca.public_key().verify(base64.b64decode(res.json()["signature"]), tbs,
                                       ec.ECDSA(hashes.SHA256()))
                other_key = ec.generate_private_key(ec.SECP256R1()).public_key()
                res = sign(tbs_ocsp(ca, other_key))
                relaytest.assert_error(self, res, 403, "policy_refused")
                stranger = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
                    serialization.Encoding.PEM,
                    serialization.PublicFormat.SubjectPublicKeyInfo).decode()
                res = sign(tbs_crl(ca.subject), pub=stranger)  # the relay's own check
                relaytest.assert_error(self, res, 502, "bad_signature")
                t0 = time.monotonic()
                res = sign(tbs_crl(ca.subject), appliance="device:0000000000000000")
                relaytest.assert_error(self, res, 503, "appliance_offline")
                self.assertLess(time.monotonic() - t0, 1.0)
                res = sign(tbs_crl(ca.subject), slot="99999999/9c")
                relaytest.assert_error(self, res, 503, "card_absent")

                audit = ac.get("/api/audit").json()
                signs = [e for e in audit if e.get("event") == "link.sign"]
                self.assertGreaterEqual(len(signs), 5, audit)
                details = " | ".join(str(e.get("detail")) for e in signs)
                self.assertIn("another issuer", details)
                self.assertIn("another authority key", details)
                self.assertIn("does not allow signing a csr", details)
                self.assertIn("another responder key", details)

                # The YubiKey pulled while signatures are under way (a slow card, so they are):
                # each caller gets a signature that verifies or card_absent, none waits for the
                # timeout; plugged back in, it signs again.
                env.delay(0, 300)
                crl_tbs = tbs_crl(ca.subject)
                pulled = []

                def signer_thread():
                    c = relaytest.logged_in(r, linktest.ADMIN, linktest.ADMIN_PW)
                    for _ in range(6):
                        t = time.monotonic()
                        res = c.post("/api/v1/appliances/signature", {
                            "appliance": device, "slot": f"{serial}/9c", "ca_id": "ca-test",
                            "tbs": base64.b64encode(crl_tbs).decode(), "public_key": ca_pub_pem})
                        pulled.append((res, time.monotonic() - t))

                threads = [threading.Thread(target=signer_thread) for _ in range(2)]
                for t in threads:
                    t.start()
                time.sleep(0.8)
                env.remove(0, wait=False)
                for t in threads:
                    t.join(timeout=60)
                env.delay(0, 0)
                self.assertEqual(len(pulled), 12)
                codes = sorted({x[0].status for x in pulled})
                for res, took in pulled:
                    if res.status == 200:
                        ca.public_key().verify(base64.b64decode(res.json()["signature"]),
                                               crl_tbs, ec.ECDSA(hashes.SHA256()))
                    else:
                        relaytest.assert_error(self, res, 503, "card_absent")
                    self.assertLess(took, 8.0)
                self.assertIn(503, codes, codes)
                env.insert(0)
                wait_key(ac, serial)
                res = linktest.wait_for(lambda: (lambda x: x if x.status == 200 else None)(
                    sign(tbs_crl(ca.subject))), timeout=20, what="signing after re-insertion")
                self.assertEqual(res.status, 200, res.body)

            # The appliance stopped: the next request fails at once, clearly.
            linktest.wait_for(lambda: not linktest.appliances(rc)[device]["online"],
                              what="offline")
            t0 = time.monotonic()
            res = rc.post("/api/v1/appliances/signature", {
                "appliance": device, "slot": f"{serial}/9c",
                "tbs": base64.b64encode(tbs_crl(ca.subject)).decode(),
                "public_key": ca_pub_pem})
            relaytest.assert_error(self, res, 503, "appliance_offline")
            self.assertLess(time.monotonic() - t0, 1.0)

            # An appliance killed with requests in flight: every caller gets a signature that
            # verifies or a clear error, at once, and nothing waits for its timeout.
            ag2 = linktest.agentlib.agent(linktest.AGENT_LINK, env=env.env)
            ag2.start()
            try:
                ac2 = linktest.agent_client(ag2)
                res = linktest.enrol(ac2, linktest.token(rc))
                self.assertEqual(res.status, 200, res.body)
                device2 = res.json()["device"]
                linktest.wait_for(lambda: linktest.appliances(rc).get(device2, {}).get("online"),
                                  what="second appliance online")
                tbs = tbs_crl(ca.subject)
                results = []

                def one():
                    c = relaytest.logged_in(r, linktest.ADMIN, linktest.ADMIN_PW)
                    for _ in range(20):
                        t = time.monotonic()
                        res = c.post("/api/v1/appliances/signature", {
                            "appliance": device2, "slot": f"{serial}/9c",
                            "tbs": base64.b64encode(tbs).decode(), "public_key": ca_pub_pem})
                        results.append((res, time.monotonic() - t))

                threads = [threading.Thread(target=one) for _ in range(4)]
                for t in threads:
                    t.start()
                linktest.wait_for(lambda: len(results) >= 4, what="requests under way")
                ag2.kill()
                for t in threads:
                    t.join(timeout=60)
            finally:
                ag2.kill()
            ok = [x for x in results if x[0].status == 200]
            failed = [x for x in results if x[0].status != 200]
            self.assertTrue(ok and failed, [x[0].status for x in results])
            for res, _ in ok:
                ca.public_key().verify(base64.b64decode(res.json()["signature"]), tbs,
                                       ec.ECDSA(hashes.SHA256()))
            for res, took in failed:
                relaytest.assert_error(self, res, 503, "appliance_offline")
                self.assertLess(took, 2.0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
