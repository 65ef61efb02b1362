"""HSM-backed CAs end to end (issue 7): pki-relay + iothsm-agent + pcscd + vpcd + piv-sim on
loopback, driven through the relay's REST API and the agent's wizard API only.

HSM root: the relay makes the CA (key type HSM) and its HSM provisioning certificate; the agent's
wizard generates a key on the (virtual) YubiKey, shows the relay for confirmation, checks the
relay's signature, enrols with the slot's key, self-signed certificate and attestation, and
writes the certificate only after the relay accepted; the relay shows the offer, the operator
imports it, the CA is active; leaves are issued through a template (submit CSR, approve) with
every signature made on the card through the link; one is revoked; the CRL and OCSP answers are
fetched. HSM intermediate: the same in CSR mode, the CSR signed by a managed root on the same
relay through its "Certificate Authority" template, the signed certificate imported into the
slot and into the relay. Everything is verified with openssl (verify -x509_strict, crl -verify,
ocsp good/revoked) and the certificates' keys are compared with what yubico-piv-tool reads."""
import contextlib
import hashlib
import os
import re
import ssl
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.environ.get("PKI_SOURCE_DIR", "."), "tests", "agent"))
sys.path.insert(0, os.path.join(os.environ.get("PKI_SOURCE_DIR", "."), "tests", "acme"))

import acmetest  # noqa: E402
import linktest  # noqa: E402
import provcert  # noqa: E402
import relaytest  # noqa: E402
from agentlib import PIN, expect, piv_tool, set_up, slot_of, wait_key  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from pivsim import PcscEnv  # noqa: E402
from pkitest import free_port, http  # noqa: E402
from wsmitm import Mitm  # noqa: E402


def read(path):
    with open(path) as f:
        return f.read()


def pubkey_pem(cert):
    return cert.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


class HsmCa(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="hsm-ca-")

    def write(self, name, data):
        path = os.path.join(self.work, name)
        with open(path, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        return path

    def openssl(self, *args, ok=True):
        r = relaytest.openssl(*args, check=False)
        if ok:
            self.assertEqual(r.returncode, 0, f"openssl {args}:\n{r.stdout}\n{r.stderr}")
        return r

    # ---- relay side ----

    def provisioning_certificate(self, ca, kind):
        """Checks what the relay made: our critical extension names this relay, this CA and its
        kind; the issuer is the relay's link certificate and its signature verifies with the
        link key; openssl refuses the certificate itself (unknown critical extension)."""
        pem = ca["provisioning_certificate"]
        ext = provcert.parse(pem)
        self.assertTrue(ext["critical"])
        self.assertEqual(ext["link_url"], self.link_url)
        self.assertEqual(ext["ca_id"], str(ca["id"]))
        self.assertEqual(ext["ca_kind"], kind)
        self.assertEqual(ext["fingerprint"], self.fingerprint)
        self.assertEqual(ext["issuer"], self.link_cert.subject.public_bytes())
        self.link_cert.public_key().verify(ext["signature"], ext["tbs"],
                                           ec.ECDSA(hashes.SHA256()))
        path = self.write("provisioning.pem", pem)
        out = self.openssl("verify", "-CAfile", self.write("link.pem", self.link_pem), path,
                           ok=False)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("unhandled critical extension", out.stdout + out.stderr)
        return pem

    def issue(self, tpl_id, name):
        _, csr = relaytest.make_csr(self.work, name, f"/CN={name}.example.com",
                                    (f"DNS:{name}.example.com",))
        r = self.rc.post(f"/api/v1/templates/{tpl_id}/requests", {"csr": csr})
        self.assertEqual(r.status, 201, r.body)
        r = self.rc.post(f"/api/v1/requests/{r.json()['id']}/approve", {})
        self.assertEqual(r.status, 200, r.body)
        cert = r.json()["certificate"]
        cert["path"] = self.write(f"{name}.pem", cert["pem"])
        return cert

    def web_template(self, ca_id):
        tpls = self.rc.get(f"/api/v1/cas/{ca_id}/templates").json()["templates"]
        return next(t for t in tpls if t["name"] == "Web Server")

    def services(self, ca, trust, untrusted, issuer_pem, name):
        """Two leaves issued through the CA's Web Server template (signed on the YubiKey through
        the link), one revoked; chain, CRL and OCSP verified with openssl."""
        tpl = self.web_template(ca["id"])
        good = self.issue(tpl["id"], f"{name}-good")
        bad = self.issue(tpl["id"], f"{name}-bad")
        verify = ["verify", "-x509_strict", "-CAfile", trust]
        if untrusted:
            verify += ["-untrusted", untrusted]
        for leaf in (good, bad):
            out = self.openssl(*verify, "-purpose", "sslserver", leaf["path"]).stdout
            self.assertIn(": OK", out)
        r = self.rc.post(f"/api/v1/certificates/{bad['id']}/revoke", {"reason": "keyCompromise"})
        self.assertEqual(r.status, 200, r.body)

        # CRL: signed by the CA's key on the card, lists exactly the revoked serial.
        crl = self.write(f"{name}.crl", http("GET", ca["urls"]["crl"]).body)
        chain = self.write(f"{name}-chain.pem",
                           read(issuer_pem) + (read(trust) if trust != issuer_pem else ""))
        r = self.openssl("crl", "-inform", "DER", "-in", crl, "-CAfile", chain, "-verify",
                         "-noout", "-text")
        self.assertIn("verify OK", r.stdout + r.stderr)
        serial = lambda c: format(x509.load_pem_x509_certificate(  # noqa: E731
            c["pem"].encode()).serial_number, "X")
        listed = set(m.lstrip("0") for m in re.findall(r"Serial Number: ([0-9A-F]+)", r.stdout))
        self.assertEqual(listed, {serial(bad)}, r.stdout)
        # And openssl verify with the CRL rejects the revoked leaf, accepts the other.
        crl_pem = self.write(f"{name}-crl.pem", self.openssl(
            "crl", "-inform", "DER", "-in", crl).stdout)
        crl_args = verify + ["-crl_check", "-CRLfile", crl_pem]
        self.assertIn(": OK", self.openssl(*crl_args, good["path"]).stdout)
        r = self.openssl(*crl_args, bad["path"], ok=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("certificate revoked", r.stdout + r.stderr)

        # OCSP: good and revoked, the response verified up to the trust anchor.
        for leaf, want in ((good, ": good"), (bad, ": revoked")):
            args = ["ocsp", "-issuer", issuer_pem, "-cert", leaf["path"], "-url",
                    ca["urls"]["ocsp"], "-CAfile", trust, "-resp_text"]
            if untrusted:
                args += ["-verify_other", untrusted]
            out = self.openssl(*args)
            self.assertIn("Response verify OK", out.stdout + out.stderr)
            self.assertIn(want, out.stdout)

    def link_cert_of(self, relay):
        pem = relaytest.Client(relay).get("/api/v1/link/certificate").body.decode()
        return x509.load_pem_x509_certificate(pem.encode())

    def ca(self, ca_id):
        r = self.rc.get(f"/api/v1/cas/{ca_id}")
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    # ---- agent side ----

    def provision(self, slot, template, **kw):
        return self.ac.post(f"/api/keys/{self.serial}/slots/{slot}/provision",
                            {"pin": PIN, "template": template, **kw})

    def generate(self, slot, pin_policy="never"):
        r = expect(self.ac.post(f"/api/keys/{self.serial}/slots/{slot}/generate",
                                {"pin": PIN, "algorithm": "ec-p256", "pin_policy": pin_policy}),
                   200)
        return r.json()["public_key"]

    def slot_certificate(self, slot):
        return piv_tool(self.env, self.env.readers[0], "-a", "read-certificate", "-s",
                        slot).stdout.strip()

    def confirm(self, slot, template, kind):
        res = expect(self.provision(slot, template), 200).json()
        self.assertEqual(res["state"], "confirm_relay")
        self.assertEqual(res["relay"], {
            "link_url": self.link_url, "fingerprint": self.fingerprint.hex(),
            "ca_id": provcert.parse(template)["ca_id"], "ca_kind": kind,
            "token_expires": res["relay"]["token_expires"]})
        t0 = time.monotonic()
        res = expect(self.provision(slot, template,
                                    confirm_fingerprint=self.fingerprint.hex()), 200).json()
        print(f"slot {slot}: confirmed provisioning (relay checks, card signature, enrolment, "
              f"write) took {(time.monotonic() - t0) * 1000:.0f} ms")
        return res

    # ---- the test ----

    def test_hsm_root_and_intermediate(self):
        with self.hsm_root_running() as (_env, _relay, _agent, device):
            self.managed_under_hsm_root()
            self.hsm_intermediate(device)

    def hsm_root(self):
        rc = self.rc
        r = rc.post("/api/v1/cas", {"name": "HSM Root", "type": "root", "key_type": "HSM",
                                    "subject": {"CN": "HSM Root CA", "O": "Example", "C": "DE"},
                                    "validity_days": 3650, "path_len": 1})
        self.assertEqual(r.status, 201, r.body)
        ca = r.json()
        self.assertEqual(ca["status"], "awaiting_appliance")  # contract amendment 18:05
        self.assertEqual(ca["key_type"], "hsm")
        template = self.provisioning_certificate(ca, 0)

        public_key = self.generate("9c")
        res = self.confirm("9c", template, "root")
        self.assertEqual(res["state"], "provisioned")
        device = res["enrolment"]["device"]
        self.assertTrue(device.startswith("device:"), res)
        self.assertEqual(res["enrolment"]["ca_id"], str(ca["id"]))
        root_pem = res["certificate"]
        root = x509.load_pem_x509_certificate(root_pem.encode())
        # The slot holds exactly the certificate the relay was offered; it is the template's
        # subject on the card's key, self-signed, without our extension.
        self.assertEqual(self.slot_certificate("9c"), root_pem.strip())
        self.assertEqual(pubkey_pem(root), public_key)
        self.assertEqual(root.subject.rfc4514_string(), "CN=HSM Root CA,O=Example,C=DE")
        self.assertNotIn(provcert.OID, [e.oid.dotted_string for e in root.extensions])
        root_path = self.write("hsm-root.pem", root_pem)
        self.openssl("verify", "-x509_strict", "-CAfile", root_path, root_path)
        self.assertEqual(slot_of(self.ac, self.serial, "9c")["state"], "provisioned")
        # The appliance took the relay's certificate for its device key (issued and signed by
        # the link certificate, named after the device); everything below is signed over a
        # link that uses it.
        st = linktest.link_state(self.ac)
        self.assertEqual(st["device"], device)
        devcert = x509.load_pem_x509_certificate(st["device_certificate"].encode())
        self.assertEqual(devcert.issuer, self.link_cert.subject)
        self.link_cert.public_key().verify(devcert.signature, devcert.tbs_certificate_bytes,
                                           ec.ECDSA(hashes.SHA256()))
        self.assertEqual(devcert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value,
                         device)
        view = expect(self.ac.get(f"/api/keys/{self.serial}/slots/9c"), 200).json()
        self.assertEqual(view["relay"], {"link_url": self.link_url, "ca_id": str(ca["id"]),
                                         "fingerprint": self.fingerprint.hex(),
                                         "device": device})

        # The relay shows the offer: slot, key, certificate, attested (generated on the card).
        offers = self.ca(ca["id"])["hsm"]["offers"]
        self.assertEqual(len(offers), 1, offers)
        offer = offers[0]
        self.assertEqual(offer["appliance"], device)
        self.assertEqual(offer["slot"], f"{self.serial}/9c")
        self.assertEqual(offer["public_key"].strip(), public_key.strip())
        self.assertEqual(offer["certificate"].strip(), root_pem.strip())
        self.assertIsNone(offer["csr"])
        self.assertTrue(offer["attested"])
        # The token is spent: the same provisioning certificate cannot enrol a second slot.
        self.generate("9a")
        res = expect(self.provision("9a", template, confirm_fingerprint=self.fingerprint.hex()),
                     400, "enrolment_refused")
        self.assertNotIn("BEGIN CERTIFICATE", piv_tool(
            self.env, self.env.readers[0], "-a", "read-certificate", "-s", "9a",
            check=False).stdout)
        self.assertEqual(slot_of(self.ac, self.serial, "9a")["state"], "key_generated")
        self.assertEqual(len(self.ca(ca["id"])["hsm"]["offers"]), 1)

        # Import Signed Certificate on the relay: the CA becomes active on the appliance's key.
        r = rc.post(f"/api/v1/cas/{ca['id']}/certificate", {"certificate_pem": offer["certificate"]})
        self.assertEqual(r.status, 200, r.body)
        ca = self.ca(ca["id"])
        self.assertEqual(ca["status"], "active")
        self.services(ca, root_path, None, root_path, "root")
        self.root_ca = ca
        return device

    def managed_under_hsm_root(self):
        """The HSM root signs an intermediate (a CA certificate signed on the card over the
        link) through its "Certificate Authority" template; that intermediate issues a leaf
        whose chain verifies up to the HSM root."""
        rc, root = self.rc, self.root_ca
        r = rc.post(f"/api/v1/cas/{root['id']}/templates",
                    {"name": "Intermediates", "starter": "Certificate Authority"})
        self.assertEqual(r.status, 201, r.body)
        ca_tpl = r.json()
        r = rc.post("/api/v1/cas", {"name": "Issuing under HSM", "type": "intermediate",
                                    "key_type": "ec-p256",
                                    "subject": {"CN": "Issuing under HSM Root", "O": "Example"}})
        self.assertEqual(r.status, 201, r.body)
        inter = r.json()
        csr = rc.get(f"/api/v1/cas/{inter['id']}/csr").body.decode()
        r = rc.post(f"/api/v1/templates/{ca_tpl['id']}/requests", {"csr": csr})
        self.assertEqual(r.status, 201, r.body)
        r = rc.post(f"/api/v1/requests/{r.json()['id']}/approve", {})
        self.assertEqual(r.status, 200, r.body)
        inter_pem = r.json()["certificate"]["pem"]
        r = rc.post(f"/api/v1/cas/{inter['id']}/certificate", {"certificate_pem": inter_pem})
        self.assertEqual(r.status, 200, r.body)
        root_path = self.write("hsm-root-again.pem",
                               rc.get(f"/api/v1/cas/{root['id']}/certificate").body.decode())
        inter_path = self.write("under-hsm.pem", inter_pem)
        self.openssl("verify", "-x509_strict", "-CAfile", root_path, inter_path)
        leaf = self.issue(self.web_template(inter["id"])["id"], "under-hsm-leaf")
        out = self.openssl("verify", "-x509_strict", "-CAfile", root_path, "-untrusted",
                           inter_path, "-purpose", "sslserver", leaf["path"]).stdout
        self.assertIn(": OK", out)

    def hsm_intermediate(self, device):
        rc = self.rc
        # A managed (software) root on the same relay signs the HSM intermediate.
        r = rc.post("/api/v1/cas", {"name": "Managed Root", "type": "root", "key_type": "ec-p256",
                                    "subject": {"CN": "Managed Root CA", "O": "Example"},
                                    "validity_days": 3650})
        self.assertEqual(r.status, 201, r.body)
        managed = r.json()
        r = rc.post(f"/api/v1/cas/{managed['id']}/templates",
                    {"name": "Intermediates", "starter": "Certificate Authority"})
        self.assertEqual(r.status, 201, r.body)
        ca_tpl = r.json()
        managed_path = self.write("managed-root.pem",
                                  rc.get(f"/api/v1/cas/{managed['id']}/certificate").body.decode())

        r = rc.post("/api/v1/cas", {"name": "HSM Issuing", "type": "intermediate",
                                    "key_type": "HSM",
                                    "subject": {"CN": "HSM Issuing CA", "O": "Example"}})
        self.assertEqual(r.status, 201, r.body)
        ca = r.json()
        self.assertEqual(ca["status"], "awaiting_appliance")
        first = self.provisioning_certificate(ca, 1)
        # "Download HSM Provisioning Certificate" again: a new token; the first stops working.
        r = rc.get(f"/api/v1/cas/{ca['id']}/provisioning-certificate")
        self.assertEqual(r.status, 200, r.body)
        template = r.body.decode()
        self.assertNotEqual(provcert.parse(template)["token"], provcert.parse(first)["token"])

        # This CA's slot wants the PIN once per session: the relay signs with it only while the
        # key is unlocked for signing.
        public_key = self.generate("9d", pin_policy="once")
        expect(self.provision("9d", first, confirm_fingerprint=self.fingerprint.hex()), 400,
               "enrolment_refused")
        self.assertEqual(slot_of(self.ac, self.serial, "9d")["state"], "key_generated")
        # CSR mode by default for an intermediate; the enrolled appliance keeps its identity.
        res = self.confirm("9d", template, "intermediate")
        self.assertEqual(res["state"], "csr_pending")
        self.assertEqual(res["enrolment"]["device"], device)
        csr_pem = res["csr"]
        csr = x509.load_pem_x509_csr(csr_pem.encode())
        self.assertTrue(csr.is_signature_valid)
        self.assertEqual(csr.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
            public_key)
        self.assertEqual(linktest.link_state(self.ac)["device"], device)

        offers = self.ca(ca["id"])["hsm"]["offers"]
        self.assertEqual(len(offers), 1, offers)
        self.assertEqual(offers[0]["slot"], f"{self.serial}/9d")
        self.assertEqual(offers[0]["csr"].strip(), csr_pem.strip())
        self.assertIsNone(offers[0]["certificate"])

        # The managed root signs the CSR the relay holds through its CA template.
        r = rc.post(f"/api/v1/templates/{ca_tpl['id']}/requests", {"csr": offers[0]["csr"]})
        self.assertEqual(r.status, 201, r.body)
        r = rc.post(f"/api/v1/requests/{r.json()['id']}/approve", {})
        self.assertEqual(r.status, 200, r.body)
        inter_pem = r.json()["certificate"]["pem"]
        inter_path = self.write("hsm-inter.pem", inter_pem)
        self.openssl("verify", "-x509_strict", "-CAfile", managed_path, inter_path)

        # Into the slot (the agent checks key and chain) and into the relay.
        r = expect(self.ac.post(f"/api/keys/{self.serial}/slots/9d/certificate",
                                {"pin": PIN, "certificate": inter_pem,
                                 "chain": read(managed_path)}), 200)
        self.assertEqual(r.json()["state"], "provisioned")
        self.assertEqual(self.slot_certificate("9d"),
                         x509.load_pem_x509_certificate(inter_pem.encode()).public_bytes(
                             serialization.Encoding.PEM).decode().strip())
        # Activation signs the OCSP responder certificate over the link: refused while the key
        # is locked (the CA keeps waiting), done once it is unlocked.
        expect(self.ac.post("/api/keys/reload"), 200)  # no PIN verification lingers
        r = rc.post(f"/api/v1/cas/{ca['id']}/certificate", {"certificate_pem": inter_pem})
        self.assertNotEqual(r.status, 200, r.body)
        self.assertIn("pin", r.body.decode().lower())
        self.assertEqual(self.ca(ca["id"])["status"], "awaiting_appliance")
        expect(self.ac.post(f"/api/keys/{self.serial}/unlock", {"pin": PIN}), 200)
        expect(self.ac.post("/api/keys/reload"), 200)  # the kept PIN is what signs, not a session
        r = rc.post(f"/api/v1/cas/{ca['id']}/certificate", {"certificate_pem": inter_pem})
        self.assertEqual(r.status, 200, r.body)
        ca = self.ca(ca["id"])
        self.assertEqual(ca["status"], "active")
        self.services(ca, managed_path, inter_path, inter_path, "inter")

    def test_hsm_root_on_two_appliances(self):
        """Redundancy through the product's own steps: one key (made with openssl, imported into
        a YubiKey in each of two appliances) offered for one HSM root from two provisioning
        certificates; the relay signs with either; with one appliance stopped, issuance and the
        CRL go on through the other; every leaf verifies with openssl."""
        key = os.path.join(self.work, "shared.key")
        self.openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                     "-out", key)
        key_pem = read(key)
        state = relaytest.new_state_dir(self)
        pport = free_port()
        extra = 'public_http = {{ listen = "127.0.0.1"; port = %d; }};\n' % pport
        with PcscEnv(n_keys=2) as env, relaytest.relay(extra, state_dir=state) as r, \
                contextlib.ExitStack() as stack:
            self.rc = rc = linktest.admin(r)
            res = rc.post("/api/v1/cas", {"name": "Shared HSM Root", "type": "root",
                                          "key_type": "HSM", "subject": {"CN": "Shared HSM Root"}})
            self.assertEqual(res.status, 201, res.body)
            ca = res.json()
            template = ca["provisioning_certificate"]
            fp = provcert.parse(template)["fingerprint"].hex()
            agents, devices = [], []
            for i, serial in enumerate(env.serials):
                ag = linktest.agentlib.agent(
                    linktest.AGENT_LINK + 'yubikey = {{ reader_filter = "' + env.readers[i] +
                    '"; }};\n', env=env.env)
                stack.enter_context(ag)
                agents.append(ag)
                ac = linktest.agent_client(ag)
                wait_key(ac, serial)
                set_up(ac, serial)
                expect(ac.post(f"/api/keys/{serial}/slots/9c/import-key",
                               {"pin": PIN, "key": key_pem, "pin_policy": "never"}), 200)
                if i > 0:  # a new token for the second appliance ("Download" again)
                    res = rc.get(f"/api/v1/cas/{ca['id']}/provisioning-certificate")
                    self.assertEqual(res.status, 200, res.body)
                    template = res.body.decode()
                res = expect(ac.post(f"/api/keys/{serial}/slots/9c/provision",
                                     {"pin": PIN, "template": template,
                                      "confirm_fingerprint": fp}), 200).json()
                self.assertEqual(res["state"], "provisioned")
                devices.append(res["enrolment"]["device"])
                if i == 0:
                    res = rc.post(f"/api/v1/cas/{ca['id']}/certificate",
                                  {"certificate_pem": res["certificate"]})
                    self.assertEqual(res.status, 200, res.body)
            self.assertEqual(len(set(devices)), 2)
            hsm = self.ca(ca["id"])["hsm"]
            self.assertEqual(sorted(hsm["targets"]), sorted(
                f"{d}/{s}/9c" for d, s in zip(devices, env.serials)))
            # An imported key carries no attestation (only keys generated on the card do).
            self.assertEqual([o["attested"] for o in hsm["offers"]], [False, False])
            ca = self.ca(ca["id"])
            self.assertEqual(ca["status"], "active")
            root = self.write("shared-root.pem",
                              rc.get(f"/api/v1/cas/{ca['id']}/certificate").body.decode())
            tpl = self.web_template(ca["id"])
            for name in ("both-1", "both-2", "both-3"):
                leaf = self.issue(tpl["id"], name)
                self.openssl("verify", "-x509_strict", "-CAfile", root, leaf["path"])
            # The second appliance restarts: it comes back with the relay's device certificate
            # from its state, and the relay takes its messages.
            ag2 = agents[1]
            self.assertEqual(ag2.stop(), 0)
            ag2.log.close()
            linktest.wait_for(lambda: not linktest.appliances(rc)[devices[1]]["online"],
                              what="second appliance offline")
            ag2.start()
            linktest.wait_for(lambda: linktest.appliances(rc)[devices[1]]["online"],
                              what="second appliance back")
            ac2 = linktest.agent_client(ag2)
            devcert = x509.load_pem_x509_certificate(
                linktest.link_state(ac2)["device_certificate"].encode())
            self.assertEqual(devcert.issuer, self.link_cert_of(r).subject)
            # One appliance goes away: the other signs leaves and the CRL.
            self.assertEqual(agents[0].stop(), 0)
            linktest.wait_for(lambda: not linktest.appliances(rc)[devices[0]]["online"],
                              what="first appliance offline")
            leaf = self.issue(tpl["id"], "one-left")
            self.openssl("verify", "-x509_strict", "-CAfile", root, leaf["path"])
            r2 = rc.post(f"/api/v1/certificates/{leaf['id']}/revoke", {"reason": "superseded"})
            self.assertEqual(r2.status, 200, r2.body)
            crl = self.write("shared.crl", http("GET", ca["urls"]["crl"]).body)
            out = self.openssl("crl", "-inform", "DER", "-in", crl, "-CAfile", root, "-verify",
                               "-noout")
            self.assertIn("verify OK", out.stdout + out.stderr)

    @contextlib.contextmanager
    def hsm_root_running(self):
        """A relay (with a public HTTP listener), one virtual YubiKey, an appliance, and an HSM
        root provisioned on slot 9c through the product's steps (hsm_root). Yields (env, relay,
        agent, device name); self.rc, self.ac and self.root_ca are set."""
        state = relaytest.new_state_dir(self)
        pport = free_port()
        extra = 'public_http = {{ listen = "127.0.0.1"; port = %d; }};\n' % pport
        with PcscEnv(n_keys=1) as env, relaytest.relay(extra, state_dir=state) as r:
            self.env = env
            self.rc = linktest.admin(r)
            self.link_url = linktest.token(self.rc)["link_url"]
            self.link_pem = relaytest.Client(r).get("/api/v1/link/certificate").body.decode()
            self.link_cert = x509.load_pem_x509_certificate(self.link_pem.encode())
            self.fingerprint = hashlib.sha256(ssl.PEM_cert_to_DER_cert(self.link_pem)).digest()
            with linktest.agent(env=env.env) as ag:
                self.ac = linktest.agent_client(ag)
                self.serial = env.serials[0]
                wait_key(self.ac, self.serial)
                set_up(self.ac, self.serial)
                device = self.hsm_root()
                yield env, r, ag, device

    def test_acme_issues_from_an_hsm_root(self):
        """ACME on an HSM CA (issue 10: "works with HSM-backed CAs too"): a policy on the HSM
        root's Web Server template, an EAB account, an order for a pre-approved name finalized;
        the certificate comes back with its chain, was signed on the YubiKey through the link
        (the appliance's audit says so) and verifies with openssl up to the HSM root."""
        with self.hsm_root_running() as (env, r, ag, device):
            rc, ca = self.rc, self.root_ca
            res = rc.post("/api/v1/acme/policies", {
                "name": "hsm web", "template_id": self.web_template(ca["id"])["id"],
                "allowed_domains": ["*.hsm.example.test"],
                "preapproved_domains": ["*.hsm.example.test"]})
            self.assertEqual(res.status, 201, res.body)
            res = rc.post("/api/v1/acme/eab", {"name": "hsm", "policy_id": res.json()["id"]})
            self.assertEqual(res.status, 201, res.body)
            eab = (res.json()["key_id"], res.json()["hmac_key"])
            signed_before = len(link_signatures(self.ac))
            c = acmetest.Client(f"{r.url}/acme/directory", acmetest.Key("ES256"))
            self.assertEqual(c.register(eab=eab).status, 201)
            res = c.new_order(["www.hsm.example.test"])
            self.assertEqual(res.status, 201, res.body)
            order = res.json()
            self.assertEqual(order["status"], "ready")  # pre-approved: no challenge
            der, _ = acmetest.csr_der(["www.hsm.example.test"])
            res = c.post(order["finalize"], {"csr": acmetest.b64u(der)})
            self.assertEqual(res.status, 200, res.body)
            self.assertEqual(res.json()["status"], "valid")
            chain = c.get(res.json()["certificate"])
            self.assertEqual(chain.status, 200, chain.body)
            certs = acmetest.load_chain(chain.body)
            self.assertEqual(len(certs), 2)
            leaf = self.write("acme-hsm.pem", certs[0].public_bytes(serialization.Encoding.PEM))
            root = self.write("acme-hsm-root.pem", ca_pem(rc, ca))
            out = self.openssl("verify", "-x509_strict", "-CAfile", root, "-purpose", "sslserver",
                               leaf).stdout
            self.assertIn(": OK", out)
            self.assertGreater(len(link_signatures(self.ac)), signed_before)

    def beside_slow_card(self, env, slow, meanwhile):
        """Runs slow() on a thread while the card (delayed by the caller) signs, and meanwhile()
        half a second later; then ends the delay. slow() must have waited for the card, and
        meanwhile() must have been answered before slow() was. Returns slow()'s result."""
        done = {}

        def run():
            t0 = time.monotonic()
            done["slow"] = (slow(), t0, time.monotonic())

        th = threading.Thread(target=run)
        th.start()
        time.sleep(0.5)  # slow() is now waiting for the card
        meanwhile()
        written = time.monotonic()
        th.join(timeout=90)
        env.delay(0, 0)
        result, started, ended = done["slow"]
        self.assertEqual(result.status, 200, result.body)
        self.assertGreater(ended - started, 2.5)  # the card was slow: the test means it
        self.assertLess(written, ended)  # the writes did not wait for the signature
        return result

    def test_slow_card_does_not_hold_up_other_writes(self):
        """While an HSM CA's YubiKey takes its time over a signature (a slow card: 3 s), the
        relay's other writes go on: a request submitted meanwhile is stored and answered before
        the approval comes back (the signature is made outside the database transaction), and
        the approval still issues its certificate."""
        with self.hsm_root_running() as (env, r, ag, device):
            rc, ca = self.rc, self.root_ca
            tpl = self.web_template(ca["id"])

            def submit(name):
                _, csr = relaytest.make_csr(self.work, name, f"/CN={name}.example.com",
                                            (f"DNS:{name}.example.com",))
                return rc.post(f"/api/v1/templates/{tpl['id']}/requests", {"csr": csr})

            res = submit("slow")
            self.assertEqual(res.status, 201, res.body)
            slow_id = res.json()["id"]
            env.delay(0, 3000)

            def approve():
                c = relaytest.logged_in(r, linktest.ADMIN, linktest.ADMIN_PW)
                return c.post(f"/api/v1/requests/{slow_id}/approve", {})

            def meanwhile():
                res = submit("meanwhile")
                self.assertEqual(res.status, 201, res.body)

            approved = self.beside_slow_card(env, approve, meanwhile)
            leaf = self.write("slow.pem", approved.json()["certificate"]["pem"])
            self.openssl("verify", "-x509_strict", "-CAfile",
                         self.write("slow-root.pem", ca_pem(rc, ca)), leaf)

    def test_slow_card_crl_does_not_hold_up_other_writes(self):
        """A CRL remade on a slow card (3 s a signature) does not hold the relay's database: a
        request submitted and a certificate revoked while the CRL is being signed are answered
        before the CRL comes back (the CRL is signed outside any transaction). That CRL lists
        the certificate revoked before it; the revocation made meanwhile is not lost: the next
        CRL lists both. Verified with openssl against the CA on the card."""
        with self.hsm_root_running() as (env, r, ag, device):
            rc, ca = self.rc, self.root_ca
            tpl = self.web_template(ca["id"])
            leaf = self.issue(tpl["id"], "crl-slow")
            late = self.issue(tpl["id"], "crl-late")
            self.assertEqual(http("GET", ca["urls"]["crl"]).status, 200)  # made, fast
            env.delay(0, 3000)
            res = rc.post(f"/api/v1/certificates/{leaf['id']}/revoke", {"reason": "superseded"})
            self.assertEqual(res.status, 200, res.body)

            def meanwhile():
                _, csr = relaytest.make_csr(self.work, "crl-meanwhile",
                                            "/CN=crl-meanwhile.example.com",
                                            ("DNS:crl-meanwhile.example.com",))
                res = rc.post(f"/api/v1/templates/{tpl['id']}/requests", {"csr": csr})
                self.assertEqual(res.status, 201, res.body)
                res = rc.post(f"/api/v1/certificates/{late['id']}/revoke",
                              {"reason": "superseded"})
                self.assertEqual(res.status, 200, res.body)

            got = self.beside_slow_card(env, lambda: http("GET", ca["urls"]["crl"], timeout=60),
                                        meanwhile)
            root = self.write("crl-slow-root.pem", ca_pem(rc, ca))
            serial = lambda c: format(x509.load_pem_x509_certificate(  # noqa: E731
                c["pem"].encode()).serial_number, "X")

            def listed(body, name):
                out = self.openssl("crl", "-inform", "DER", "-in", self.write(name, body),
                                   "-CAfile", root, "-verify", "-noout", "-text")
                self.assertIn("verify OK", out.stdout + out.stderr)
                return set(m.lstrip("0") for m in re.findall(r"Serial Number: ([0-9A-F]+)",
                                                             out.stdout))

            self.assertIn(serial(leaf), listed(got.body, "crl-slow.crl"))
            again = http("GET", ca["urls"]["crl"], timeout=60)
            self.assertEqual(again.status, 200, again.body)
            self.assertLessEqual({serial(leaf), serial(late)}, listed(again.body, "crl-late.crl"))

    def test_enrolment_with_the_relay_away(self):
        """The relay goes away between the operator's two provisioning steps (the relay shown,
        then confirmed). The confirmation is answered at once with 502 relay_unreachable naming
        the relay, and nothing is written to the YubiKey (the slot keeps its key, without a
        certificate). With the relay back on its port, confirming again enrols the appliance
        and provisions the slot: the one-time token was not spent."""
        state = relaytest.new_state_dir(self)
        with PcscEnv(n_keys=1) as env:
            self.env = env
            r1 = linktest.relay(state).start()
            port = r1.port
            try:
                self.rc = linktest.admin(r1)
                self.link_url = linktest.token(self.rc)["link_url"]
                self.link_pem = relaytest.Client(r1).get("/api/v1/link/certificate").body.decode()
                self.link_cert = x509.load_pem_x509_certificate(self.link_pem.encode())
                self.fingerprint = hashlib.sha256(
                    ssl.PEM_cert_to_DER_cert(self.link_pem)).digest()
                r = self.rc.post("/api/v1/cas", {"name": "Away Root", "type": "root",
                                                 "key_type": "HSM", "subject": {"CN": "Away"},
                                                 "validity_days": 365})
                self.assertEqual(r.status, 201, r.body)
                template = r.json()["provisioning_certificate"]
                with linktest.agent(env=env.env) as ag:
                    self.ac = linktest.agent_client(ag)
                    self.serial = env.serials[0]
                    wait_key(self.ac, self.serial)
                    set_up(self.ac, self.serial)
                    self.generate("9c")
                    res = expect(self.provision("9c", template), 200).json()
                    self.assertEqual(res["state"], "confirm_relay")
                    self.assertEqual(r1.stop(), 0)
                    res = expect(self.provision("9c", template,
                                                confirm_fingerprint=self.fingerprint.hex()),
                                 502, "relay_unreachable")
                    self.assertIn(self.link_url.split("/")[2], res.json()["error"]["message"])
                    self.assertEqual(slot_of(self.ac, self.serial, "9c")["state"],
                                     "key_generated")
                    self.assertNotIn("BEGIN CERTIFICATE", piv_tool(
                        env, env.readers[0], "-a", "read-certificate", "-s", "9c",
                        check=False).stdout)
                    with linktest.relay(state, port=port) as r2:
                        self.rc = linktest.admin(r2, first=False)
                        res = self.confirm("9c", template, "root")
                        self.assertEqual(res["state"], "provisioned")
                        self.assertEqual(self.slot_certificate("9c"), res["certificate"].strip())
            finally:
                r1.kill()

    def test_enrolment_answers_when_the_link_fails(self):
        """The enrolment's offer goes out on the link, which then fails (a man in the middle,
        wsmitm, between appliance and relay): with the link cut after the offer was sent, the
        confirmation is answered 502 link_lost; with the offer swallowed (the relay never
        answers), 504 enrolment_timeout after the enrolment's 30 s (an answer, not a dropped
        connection: the agent's HTTP server lets a request take that long). Each time nothing
        is written to the YubiKey, and with the link whole again the same provisioning
        certificate enrols and provisions the slot."""
        state = relaytest.new_state_dir(self)
        r = linktest.relay(state)
        m = Mitm(r.port)
        self.addCleanup(m.close)
        with open(r.config_path, "w") as f:
            f.write(relaytest.BASE_CONFIG.format(port=r.port, state_dir=state, dir=r.dir).replace(
                "port = %d; }" % r.port,
                'port = %d; public_url = "https://127.0.0.1:%d"; }' % (r.port, m.port)))
        # dead_ms past the offer's 30 s: with the default 25 s the agent gives a silent relay
        # up first, and the answer is link_lost (the case above) instead of the timeout.
        agent_conf = ('link = {{ tls_ca = "%s"; max_backoff_ms = 1000; dead_ms = 60000; }};\n'
                      % m.cert_path)
        with PcscEnv(n_keys=1) as env, r:
            self.env = env
            self.rc = linktest.admin(r)
            self.link_url = linktest.token(self.rc)["link_url"]
            self.assertEqual(self.link_url, m.url())
            self.link_pem = relaytest.Client(r).get("/api/v1/link/certificate").body.decode()
            self.fingerprint = hashlib.sha256(ssl.PEM_cert_to_DER_cert(self.link_pem)).digest()
            res = self.rc.post("/api/v1/cas", {"name": "Cut Root", "type": "root",
                                               "key_type": "HSM", "subject": {"CN": "Cut"},
                                               "validity_days": 365})
            self.assertEqual(res.status, 201, res.body)
            template = res.json()["provisioning_certificate"]
            with linktest.agentlib.agent(agent_conf, env=env.env) as ag:
                self.ac = linktest.agent_client(ag)
                self.serial = env.serials[0]
                wait_key(self.ac, self.serial)
                set_up(self.ac, self.serial)
                self.generate("9c")

                def nothing_written():
                    self.assertEqual(slot_of(self.ac, self.serial, "9c")["state"],
                                     "key_generated")
                    self.assertNotIn("BEGIN CERTIFICATE", piv_tool(
                        env, env.readers[0], "-a", "read-certificate", "-s", "9c",
                        check=False).stdout)

                expect(self.provision("9c", template), 200)  # the relay shown
                m.isolate = True  # the proxy answers the link itself; nothing reaches the relay
                mark = m.mark()
                done = {}

                def confirm():
                    done["res"] = self.provision("9c", template,
                                                 confirm_fingerprint=self.fingerprint.hex())

                th = threading.Thread(target=confirm)
                th.start()
                m.current(newer_than=mark)  # the offer is out
                m.drop_all()
                th.join(timeout=60)
                expect(done["res"], 502, "link_lost")
                nothing_written()

                t0 = time.monotonic()
                res = expect(self.provision("9c", template,
                                            confirm_fingerprint=self.fingerprint.hex()),
                             504, "enrolment_timeout")
                self.assertGreater(time.monotonic() - t0, 25)  # it waited its 30 s
                nothing_written()

                m.isolate = False
                m.drop_all()
                res = self.confirm("9c", template, "root")
                self.assertEqual(res["state"], "provisioned")
                self.assertEqual(self.slot_certificate("9c"), res["certificate"].strip())

    def test_appliance_killed_mid_issuance(self):
        """Fault: the appliance is killed (SIGKILL) while approvals on its HSM root are being
        signed on a slow card. Every caller gets a verified certificate or 503
        appliance_offline at once (not the 10 s timeout); a refused request stays pending with
        no certificate; once the appliance is back, approving it again issues it exactly once."""
        with self.hsm_root_running() as (env, r, ag, device):
            rc = self.rc
            ca = self.root_ca
            tpl = self.web_template(ca["id"])
            ids = []
            for i in range(4):
                _, csr = relaytest.make_csr(self.work, f"fault{i}", f"/CN=fault{i}.example.com",
                                            (f"DNS:fault{i}.example.com",))
                res = rc.post(f"/api/v1/templates/{tpl['id']}/requests", {"csr": csr})
                self.assertEqual(res.status, 201, res.body)
                ids.append(res.json()["id"])
            env.delay(0, 1500)  # a slow card: each signature is still under way at the kill
            answers = {}

            def approve(req_id):
                c = relaytest.logged_in(r, linktest.ADMIN, linktest.ADMIN_PW)
                res = c.post(f"/api/v1/requests/{req_id}/approve", {})
                answers[req_id] = (res, time.monotonic())

            threads = [threading.Thread(target=approve, args=(i,)) for i in ids]
            for t in threads:
                t.start()
            time.sleep(0.5)  # let the approvals reach the appliance (asserted below)
            ag.kill()
            killed = time.monotonic()
            for t in threads:
                t.join(timeout=60)
            env.delay(0, 0)
            self.assertEqual(sorted(answers), sorted(ids))
            refused = []
            for req_id, (res, at) in answers.items():
                if res.status == 200:
                    leaf = self.write(f"fault-{req_id}.pem", res.json()["certificate"]["pem"])
                    self.openssl("verify", "-x509_strict", "-CAfile",
                                 self.write("fault-root.pem", ca_pem(rc, ca)), leaf)
                else:
                    relaytest.assert_error(self, res, 503, "appliance_offline")
                    self.assertLess(at - killed, 3.0)
                    refused.append(req_id)
            # The card was slower than the kill: at least the first request was refused.
            self.assertTrue(refused, {k: v[0].status for k, v in answers.items()})
            for req_id in refused:
                got = rc.get(f"/api/v1/requests/{req_id}").json()
                self.assertEqual(got["status"], "pending", got)
            # The appliance comes back (same identity); each refused request is issued once.
            ag.start()
            self.ac = linktest.agent_client(ag)
            wait_key(self.ac, self.serial)  # (until then the appliance answers card_absent)
            linktest.wait_for(lambda: linktest.appliances(rc).get(device, {}).get("online"),
                              what="appliance back online")
            for req_id in refused:
                res = rc.post(f"/api/v1/requests/{req_id}/approve", {})
                self.assertEqual(res.status, 200, res.body)
                res = rc.post(f"/api/v1/requests/{req_id}/approve", {})
                self.assertNotEqual(res.status, 200, res.body)  # not twice
            certs = rc.get(f"/api/v1/cas/{ca['id']}/certificates?q=fault").json()[
                "certificates"]
            names = sorted(c["subject"] for c in certs)
            self.assertEqual(names, sorted(f"CN=fault{i}.example.com" for i in range(4)),
                             names)
            self.assertEqual(len({c["serial"] for c in certs}), 4)


def link_signatures(ac):
    """The appliance's audit entries of certificates it signed for the relay (newest 200)."""
    return [e for e in ac.get("/api/audit").json() if e.get("event") == "link.sign" and
            e.get("detail", "").startswith("signed certificate")]


def ca_pem(rc, ca):
    return rc.get(f"/api/v1/cas/{ca['id']}/certificate").body.decode()


if __name__ == "__main__":
    unittest.main()
