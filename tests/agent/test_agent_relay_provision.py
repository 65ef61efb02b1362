"""The wizard's provisioning step with an HSM provisioning certificate (the relay's extension:
link URL, CA id, one-time token, the relay's fingerprint) against a real pki-relay on loopback
and a virtual YubiKey (pcscd + vpcd + piv-sim), for everything the agent must refuse without
touching the card or the relay: the first call only shows the relay for confirmation; a wrong
confirmed fingerprint; a template signed by another key than the relay's link key (or naming
another issuer); a template naming a fingerprint the relay does not have; a relay that cannot be
reached; an appliance enrolled with one relay given another relay's template. After each refusal
the slot holds no certificate (read with yubico-piv-tool), its state is unchanged, the agent
made no device key and the relay lists no appliance. A plain template without the extension
still provisions offline."""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.environ.get("PKI_SOURCE_DIR", "."), "tests", "link"))

import linktest  # noqa: E402
import provcert  # noqa: E402
import relaytest  # noqa: E402
from agentlib import PIN, expect, make_template, openssl, piv_tool, set_up, slot_of, tmpfile, wait_key  # noqa: E402
from pivsim import PcscEnv  # noqa: E402
from pkitest import free_port  # noqa: E402


class AgentRelayProvision(unittest.TestCase):
    def test_refusals_change_nothing(self):
        work = tempfile.mkdtemp(prefix="agent-relayprov-")
        state = relaytest.new_state_dir(self)
        with PcscEnv(n_keys=1) as env, linktest.relay(state) as r:
            rc = linktest.admin(r)
            tok = linktest.token(rc)
            url = tok["link_url"]
            link_pem = relaytest.Client(r).get("/api/v1/link/certificate").body.decode()
            link_cert, fp = provcert.relay_link_cert(link_pem)
            self.assertEqual(fp.hex(), tok["relay_fingerprint"])
            other = provcert.new_key()
            with linktest.agent(env=env.env) as ag:
                ac = linktest.agent_client(ag)
                serial = env.serials[0]
                wait_key(ac, serial)
                set_up(ac, serial)
                expect(ac.post(f"/api/keys/{serial}/slots/9c/generate",
                               {"pin": PIN, "algorithm": "ec-p256", "pin_policy": "never"}), 200)

                def provision(pem, **kw):
                    return ac.post(f"/api/keys/{serial}/slots/9c/provision",
                                   {"pin": PIN, "template": pem, **kw})

                def unchanged():
                    self.assertEqual(slot_of(ac, serial, "9c")["state"], "key_generated")
                    out = piv_tool(env, env.readers[0], "-a", "read-certificate", "-s", "9c",
                                   check=False)
                    self.assertNotIn("BEGIN CERTIFICATE", out.stdout)
                    self.assertEqual(linktest.link_state(ac)["state"], "unconfigured")
                    self.assertEqual(linktest.appliances(rc), {})

                # The first call shows the relay for the operator to compare and does nothing.
                forged = provcert.make(link_cert, other, url, fp, ca_id="7", kind=1)
                res = expect(provision(forged), 200).json()
                self.assertEqual(res["state"], "confirm_relay")
                self.assertEqual(res["relay"]["link_url"], url)
                self.assertEqual(res["relay"]["fingerprint"], fp.hex())
                self.assertEqual(res["relay"]["ca_id"], "7")
                self.assertEqual(res["relay"]["ca_kind"], "intermediate")
                self.assertRegex(res["relay"]["token_expires"], r"^\d{4}-\d\d-\d\dT")
                self.assertEqual(res["mode"], "csr")  # the default follows the CA kind
                self.assertNotIn("token", res["relay"])
                unchanged()

                # A fingerprint the operator typed that is not the template's.
                for wrong in ("00" * 32, fp.hex()[:-2] + "zz", "", fp.hex() + "00"):
                    expect(provision(forged, confirm_fingerprint=wrong), 400,
                           "fingerprint_mismatch")
                unchanged()

                # The right relay and fingerprint, but the template is signed by another key:
                # refused (also with the fingerprint written as openssl prints it).
                for confirm in (fp.hex(), ":".join(f"{b:02X}" for b in fp)):
                    res = expect(provision(forged, confirm_fingerprint=confirm), 400,
                                 "bad_signature")
                    self.assertIn("not signed by the relay", res.json()["error"]["message"])
                unchanged()
                # Signed by a certificate of another name: refused as well.
                other_cert = x509_self_signed(other)
                res = expect(provision(provcert.make(other_cert, other, url, fp),
                                       confirm_fingerprint=fp.hex()), 400, "bad_signature")
                self.assertIn("issuer", res.json()["error"]["message"])
                unchanged()

                # A template naming a relay fingerprint the relay at that URL does not have.
                lie = provcert.make(link_cert, other, url, bytes(range(32)))
                expect(provision(lie, confirm_fingerprint=bytes(range(32)).hex()), 400,
                       "relay_fingerprint")
                unchanged()

                # A relay that does not answer.
                gone = provcert.make(link_cert, other, f"wss://127.0.0.1:{free_port()}/link", fp)
                res = expect(provision(gone, confirm_fingerprint=fp.hex()), 502,
                             "relay_unreachable")
                self.assertIn("cannot reach the relay", res.json()["error"]["message"])
                unchanged()

                # Enrolled with this relay (three values), a template for another relay is
                # refused: one relay per appliance.
                res = linktest.enrol(ac, tok)
                self.assertEqual(res.status, 200, res.body)
                device = res.json()["device"]
                elsewhere = provcert.make(link_cert, other, "wss://relay.invalid:8443/link",
                                          bytes(32))
                res = expect(provision(elsewhere, confirm_fingerprint="00" * 32), 409,
                             "other_relay")
                self.assertIn("one relay", res.json()["error"]["message"])
                self.assertEqual(slot_of(ac, serial, "9c")["state"], "key_generated")
                self.assertEqual(list(linktest.appliances(rc)), [device])
                self.assertEqual(linktest.link_state(ac)["device"], device)

                # A plain template (no extension) still provisions offline; it needs a mode.
                plain = make_template(work)
                expect(provision(plain), 400, "bad_mode")
                res = expect(provision(plain, mode="self-signed"), 200).json()
                self.assertEqual(res["state"], "provisioned")
                crt = tmpfile(res["certificate"], dir=work)
                openssl("verify", "-x509_strict", "-CAfile", crt, crt)
                # The extension never reaches a CA certificate made from the relay's template.
                self.assertNotIn(provcert.OID, openssl("x509", "-in", crt, "-noout", "-text").stdout)


def x509_self_signed(key):
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not the relay")])
    return (x509.CertificateBuilder().issuer_name(name).subject_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))


if __name__ == "__main__":
    unittest.main()
