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
import datetime
import os
import sys
import time
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

    def test_relay_refusals_change_nothing(self):
        """The relay's own refusals reach the operator with its reason, and a new appliance is
        left unenrolled with its card unchanged: a token replaced by a newer download, a token
        that expired (the relay restarted with its clock past the expiry, still within the
        link's 60 s clock skew). A current certificate then provisions the same slot."""
        state = relaytest.new_state_dir(self)
        with PcscEnv(n_keys=1) as env, linktest.agent(env=env.env) as ag:
            ac = linktest.agent_client(ag)
            serial = env.serials[0]
            wait_key(ac, serial)
            set_up(ac, serial)
            expect(ac.post(f"/api/keys/{serial}/slots/9c/generate",
                           {"pin": PIN, "algorithm": "ec-p256", "pin_policy": "never"}), 200)

            def provision(template, fp):
                return ac.post(f"/api/keys/{serial}/slots/9c/provision",
                               {"pin": PIN, "template": template, "confirm_fingerprint": fp})

            def unchanged(rc, ca):
                self.assertEqual(slot_of(ac, serial, "9c")["state"], "key_generated")
                out = piv_tool(env, env.readers[0], "-a", "read-certificate", "-s", "9c",
                               check=False)
                self.assertNotIn("BEGIN CERTIFICATE", out.stdout)
                self.assertEqual(linktest.link_state(ac)["state"], "not_enrolled")
                self.assertEqual(linktest.appliances(rc), {})
                self.assertEqual(rc.get(f"/api/v1/cas/{ca['id']}").json()["hsm"]["offers"], [])

            with linktest.relay(state) as r1:
                rc = linktest.admin(r1)
                port = r1.port
                res = rc.post("/api/v1/cas", {"name": "HSM Root", "type": "root",
                                              "key_type": "HSM", "subject": {"CN": "HSM Root"}})
                self.assertEqual(res.status, 201, res.body)
                ca = res.json()
                replaced = ca["provisioning_certificate"]
                res = rc.get(f"/api/v1/cas/{ca['id']}/provisioning-certificate?ttl_seconds=60")
                self.assertEqual(res.status, 200, res.body)
                short = res.body.decode()
                fields = provcert.parse(short)
                fp = fields["fingerprint"].hex()
                res = expect(provision(replaced, fp), 400, "enrolment_refused")
                self.assertIn("replaced by a newer provisioning certificate",
                              res.json()["error"]["message"])
                unchanged(rc, ca)

            # The short token expires 60 s after it was made (T0). The relay comes back with its
            # clock frozen at T0 + 61 once real time is at least T0 + 2, so its messages are at
            # most 59 s ahead of the agent's clock (the link accepts 60 s of skew).
            t0 = int(datetime.datetime.strptime(fields["expires"], "%Y%m%d%H%M%SZ").replace(
                tzinfo=datetime.timezone.utc).timestamp()) - 60
            linktest.wait_for(lambda: time.time() >= t0 + 2, timeout=30, what="T0 + 2")
            r2 = relaytest.relay(env={"PKI_FAKE_NOW": str(t0 + 61)}, state_dir=state)
            r2.port = port  # the link URL in the provisioning certificates
            with open(r2.config_path, "w") as f:
                f.write(relaytest.BASE_CONFIG.format(port=port, state_dir=state, dir=r2.dir))
            with r2:
                rc = linktest.admin(r2, first=False)
                res = expect(provision(short, fp), 400, "enrolment_refused")
                self.assertIn("the enrolment token has expired", res.json()["error"]["message"])
                unchanged(rc, ca)
                # A current provisioning certificate provisions the same slot afterwards.
                res = rc.get(f"/api/v1/cas/{ca['id']}/provisioning-certificate")
                self.assertEqual(res.status, 200, res.body)
                res = expect(provision(res.body.decode(), fp), 200)
                self.assertEqual(res.json()["state"], "provisioned")
                offers = rc.get(f"/api/v1/cas/{ca['id']}").json()["hsm"]["offers"]
                self.assertEqual([o["slot"] for o in offers], [f"{serial}/9c"])


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
