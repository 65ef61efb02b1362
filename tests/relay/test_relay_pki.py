"""pki-relay PKI through the REST API with real clients: root and intermediate CAs (the
intermediate signed by the root through a "Certificate Authority" template), leaves from every
workflow, openssl verify -x509_strict of the chains, openssl ocsp (good, revoked, unknown, POST
and GET, with and without nonce), openssl crl -verify listing exactly the revoked serials with
their reasons, hold then unrevoke, template deletion blocked by active or held certificates."""
import base64
import functools
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
import os
import re
import tempfile
import threading
import unittest
import urllib.request

from cryptography import x509
from cryptography.x509.oid import ExtensionOID, NameOID

from pkitest import free_port, http
from relaytest import (Client, add_user, assert_error, logged_in, make_csr, openssl, relay,
                       write)

PW = "correct horse battery"


def cert_of(pem):
    return x509.load_pem_x509_certificate(pem.encode())


class Pki(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="relay-pki-")
        cls.pport = free_port()
        cls.d = relay('public_http = {{ listen = "127.0.0.1"; port = %d; }};\n' % cls.pport)
        add_user(cls.d, "alice", PW, admin=True)
        cls.d.start()
        cls.c = logged_in(cls.d, "alice", PW)
        c = cls.c
        # Root CA (P-256) and the intermediate (RSA 2048) signed through a CA template.
        r = c.post("/api/v1/cas", {"name": "Root", "type": "root", "key_type": "ec-p256",
                                   "subject": {"CN": "Test Root CA", "O": "Example", "C": "DE"},
                                   "validity_days": 3650})
        assert r.status == 201, r.body
        cls.root = r.json()
        r = c.post(f"/api/v1/cas/{cls.root['id']}/templates",
                   {"name": "Intermediates", "starter": "Certificate Authority"})
        assert r.status == 201, r.body
        cls.ca_tpl = r.json()
        r = c.post("/api/v1/cas", {"name": "Issuing", "type": "intermediate", "key_type": "rsa",
                                   "rsa_bits": 2048, "subject": "/O=Example/CN=Test Issuing CA"})
        assert r.status == 201, r.body
        cls.inter = r.json()
        csr = c.get(f"/api/v1/cas/{cls.inter['id']}/csr").body.decode()
        r = c.post(f"/api/v1/templates/{cls.ca_tpl['id']}/requests", {"csr": csr})
        assert r.status == 201, r.body
        r = c.post(f"/api/v1/requests/{r.json()['id']}/approve", {})
        assert r.status == 200, r.body
        r = c.post(f"/api/v1/cas/{cls.inter['id']}/certificate",
                   {"certificate_pem": r.json()["certificate"]["pem"]})
        assert r.status == 200, r.body
        cls.inter = r.json()
        cls.root_pem = write(cls.work, "root.pem",
                             c.get(f"/api/v1/cas/{cls.root['id']}/certificate").body.decode())
        cls.inter_pem = write(cls.work, "inter.pem",
                              c.get(f"/api/v1/cas/{cls.inter['id']}/certificate").body.decode())
        tpls = c.get(f"/api/v1/cas/{cls.inter['id']}/templates").json()["templates"]
        cls.web = next(t for t in tpls if t["name"] == "Web Server")

    @classmethod
    def tearDownClass(cls):
        cls.d.__exit__(None, None, None)

    def issue(self, name, subject="/CN=www.example.com", sans=("DNS:www.example.com",),
              template=None, overrides=None):
        _, csr = make_csr(self.work, name, subject, sans)
        tid = (template or self.web)["id"]
        r = self.c.post(f"/api/v1/templates/{tid}/requests", {"csr": csr})
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(r.json()["status"], "pending")
        r = self.c.post(f"/api/v1/requests/{r.json()['id']}/approve", overrides or {})
        self.assertEqual(r.status, 200, r.body)
        cert = r.json()["certificate"]
        cert["path"] = write(self.work, f"{name}.pem", cert["pem"])
        return cert

    def verify(self, leaf_path):
        r = openssl("verify", "-x509_strict", "-CAfile", self.root_pem, "-untrusted",
                    self.inter_pem, "-purpose", "sslserver", leaf_path, check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(": OK", r.stdout)

    # ---- CAs ----

    def test_root_and_intermediate_chain_verifies(self):
        r = openssl("verify", "-x509_strict", "-CAfile", self.root_pem, self.inter_pem)
        self.assertIn(": OK", r.stdout)
        inter = x509.load_pem_x509_certificate(open(self.inter_pem, "rb").read())
        bc = inter.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value
        self.assertTrue(bc.ca)
        self.assertEqual(bc.path_length, 0)  # the starter "Certificate Authority" template
        self.assertEqual(self.inter["status"], "active")
        self.assertEqual(self.inter["key_type"], "rsa")
        # CA-9: every public URL answers.
        urls = self.inter["urls"]
        for k in ("certificate", "chain", "crl", "cps"):
            self.assertEqual(http("GET", urls[k]).status, 200, (k, urls[k]))
        der = http("GET", urls["certificate"]).body
        self.assertEqual(x509.load_der_x509_certificate(der), inter)
        # The chain download holds the intermediate then the root.
        chain = self.c.get(f"/api/v1/cas/{self.inter['id']}/chain").body.decode()
        self.assertEqual(chain.count("BEGIN CERTIFICATE"), 2)

    def test_every_key_type_makes_a_root(self):
        for kt, bits in (("rsa", 3072), ("ec-p384", None), ("ec-p521", None), ("ed25519", None)):
            with self.subTest(kt):
                body = {"name": f"root-{kt}", "key_type": kt, "subject": f"/CN=Root {kt}"}
                if bits:
                    body["rsa_bits"] = bits
                r = self.c.post("/api/v1/cas", body)
                self.assertEqual(r.status, 201, r.body)
                pem = self.c.get(f"/api/v1/cas/{r.json()['id']}/certificate").body.decode()
                p = write(self.work, f"root-{kt}.pem", pem)
                out = openssl("verify", "-x509_strict", "-CAfile", p, p).stdout
                self.assertIn(": OK", out)
                # Each new CA gets the Web Server template and an OCSP responder certificate.
                tpls = self.c.get(f"/api/v1/cas/{r.json()['id']}/templates").json()["templates"]
                self.assertEqual([t["name"] for t in tpls], ["Web Server"])
                self.assertGreater(r.json()["ocsp_certificate_id"], 0)

    def test_bad_ca_requests(self):
        for body, code in (
                ({"name": "x", "key_type": "dsa", "subject": "/CN=x"}, "bad_key_type"),
                ({"name": "x", "key_type": "rsa", "rsa_bits": 1024, "subject": "/CN=x"}, None),
                ({"name": "x", "key_type": "ec-p256", "subject": "/O=no common name"},
                 "bad_field"),
                ({"name": "x", "key_type": "ec-p256", "subject": "/CN=x",
                  "signature_algorithm": "sha256WithRSAEncryption"}, "bad_field"),
                ({"name": "x", "key_type": "ec-p256", "type": "sideways", "subject": "/CN=x"},
                 "bad_field"),
                ({"name": "Root", "key_type": "ec-p256", "subject": "/CN=dup"}, "conflict")):
            with self.subTest(body=body):
                r = self.c.post("/api/v1/cas", body)
                self.assertIn(r.status, (400, 409), r.body)
                if code:
                    self.assertEqual(r.json()["error"]["code"], code)
        names = [ca["name"] for ca in self.c.get("/api/v1/cas").json()["cas"]]
        self.assertNotIn("x", names)

    def test_import_checks_key_ca_flag_and_chain(self):
        # An intermediate pending its certificate refuses a leaf (wrong key, not a CA).
        r = self.c.post("/api/v1/cas", {"name": "Pending", "type": "intermediate",
                                        "key_type": "ec-p256", "subject": "/CN=Pending CA"})
        pid = r.json()["id"]
        leaf = self.issue("not-a-ca")
        assert_error(self, self.c.post(f"/api/v1/cas/{pid}/certificate",
                                       {"certificate_pem": leaf["pem"]}), 400, "key_mismatch")
        # Its own key in a certificate without cA=TRUE: signed by an outside openssl CA.
        csr = write(self.work, "pending.csr",
                    self.c.get(f"/api/v1/cas/{pid}/csr").body.decode())
        okey = os.path.join(self.work, "outside.key")
        ocrt = os.path.join(self.work, "outside.pem")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", okey, "-out", ocrt, "-subj", "/CN=Outside Root", "-days", "30")
        ext = write(self.work, "leaf.ext", "basicConstraints=critical,CA:FALSE\n")
        plain = os.path.join(self.work, "pending-leaf.pem")
        openssl("x509", "-req", "-in", csr, "-CA", ocrt, "-CAkey", okey, "-CAcreateserial",
                "-out", plain, "-days", "30", "-extfile", ext)
        assert_error(self, self.c.post(f"/api/v1/cas/{pid}/certificate",
                                       {"certificate_pem": open(plain).read()}), 400, "not_a_ca")
        # A CA certificate from the outside root: the chain must be pasted.
        ext = write(self.work, "ca.ext", "basicConstraints=critical,CA:TRUE\n"
                                         "keyUsage=critical,keyCertSign,cRLSign\n"
                                         "subjectKeyIdentifier=hash\n")
        good = os.path.join(self.work, "pending-ca.pem")
        openssl("x509", "-req", "-in", csr, "-CA", ocrt, "-CAkey", okey, "-CAcreateserial",
                "-out", good, "-days", "30", "-extfile", ext)
        r = self.c.post(f"/api/v1/cas/{pid}/certificate", {"certificate_pem": open(good).read()})
        assert_error(self, r, 422, "chain_incomplete")
        self.assertEqual(self.c.get(f"/api/v1/cas/{pid}").json()["status"], "pending")
        r = self.c.post(f"/api/v1/cas/{pid}/certificate",
                        {"certificate_pem": open(good).read(), "chain_pem": open(ocrt).read()})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["status"], "active")
        chain = self.c.get(f"/api/v1/cas/{pid}/chain").body.decode()
        self.assertEqual(chain.count("BEGIN CERTIFICATE"), 2)

    def test_import_fetches_missing_issuer_through_aia(self):
        r = self.c.post("/api/v1/cas", {"name": "Via AIA", "type": "intermediate",
                                        "key_type": "ec-p384", "subject": "/CN=AIA Issuing CA"})
        pid = r.json()["id"]
        csr = write(self.work, "aia.csr", self.c.get(f"/api/v1/cas/{pid}/csr").body.decode())
        web = tempfile.mkdtemp(prefix="aia-", dir=self.work)
        okey = os.path.join(self.work, "aia-root.key")
        ocrt = os.path.join(self.work, "aia-root.pem")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", okey, "-out", ocrt, "-subj", "/CN=AIA Root", "-days", "30")
        openssl("x509", "-in", ocrt, "-outform", "DER", "-out", os.path.join(web, "root.cer"))
        handler = functools.partial(SimpleHTTPRequestHandler, directory=web)
        srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.addCleanup(srv.shutdown)
        url = f"http://127.0.0.1:{srv.server_address[1]}/root.cer"
        ext = write(self.work, "aia.ext", "basicConstraints=critical,CA:TRUE\n"
                                          "keyUsage=critical,keyCertSign,cRLSign\n"
                                          f"authorityInfoAccess=caIssuers;URI:{url}\n")
        crt = os.path.join(self.work, "aia-ca.pem")
        openssl("x509", "-req", "-in", csr, "-CA", ocrt, "-CAkey", okey, "-CAcreateserial",
                "-out", crt, "-days", "30", "-extfile", ext)
        r = self.c.post(f"/api/v1/cas/{pid}/certificate", {"certificate_pem": open(crt).read()})
        self.assertEqual(r.status, 200, r.body)
        chain = self.c.get(f"/api/v1/cas/{pid}/chain").body.decode()
        self.assertEqual(chain.count("BEGIN CERTIFICATE"), 2)
        self.assertIn(open(ocrt).read().strip(), chain)

    def test_import_existing_key(self):
        key = os.path.join(self.work, "existing.key")
        crt = os.path.join(self.work, "existing.pem")
        openssl("req", "-x509", "-newkey", "rsa:2048", "-keyout", key, "-out", crt, "-subj",
                "/CN=Existing Root", "-days", "365", "-passout", "pass:secret pass",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        body = {"name": "Existing", "type": "import", "key_pem": open(key).read(),
                "certificate_pem": open(crt).read()}
        assert_error(self, self.c.post("/api/v1/cas", body), 400, "bad_key")  # no password
        body["key_password"] = "secret pass"
        r = self.c.post("/api/v1/cas", body)
        self.assertEqual(r.status, 201, r.body)
        ca = r.json()
        tpl = self.c.get(f"/api/v1/cas/{ca['id']}/templates").json()["templates"][0]
        leaf = self.issue("from-existing", template=tpl)
        r = openssl("verify", "-x509_strict", "-CAfile", crt, leaf["path"], check=False)
        self.assertIn(": OK", r.stdout, r.stderr)

    def test_edit_and_delete_ca(self):
        r = self.c.post("/api/v1/cas", {"name": "Temp", "key_type": "ec-p256",
                                        "subject": "/CN=Temp"})
        tid = r.json()["id"]
        r = self.c.request("PATCH", f"/api/v1/cas/{tid}",
                           body={"cps": "We <b>verify</b> everyone.", "crl_validity_hours": 48,
                                 "crl_refresh_hours": 12})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["crl_validity_hours"], 48)
        page = http("GET", r.json()["urls"]["cps"]).body.decode()
        self.assertIn("We &lt;b&gt;verify&lt;/b&gt; everyone.", page)
        r = self.c.request("PATCH", f"/api/v1/cas/{tid}",
                           body={"crl_validity_hours": 2, "crl_refresh_hours": 5})
        assert_error(self, r, 400, "bad_field")
        # A certificate of this CA with a cached OCSP answer (no nonce) ...
        tpl = self.c.get(f"/api/v1/cas/{tid}/templates").json()["templates"][0]
        leaf = self.issue("temp-leaf", template=tpl)
        ca_pem = write(self.work, "temp-ca.pem",
                       self.c.get(f"/api/v1/cas/{tid}/certificate").body.decode())
        url = f"http://127.0.0.1:{self.pport}/pki/ca/{tid}/ocsp"
        out = openssl("ocsp", "-issuer", ca_pem, "-cert", leaf["path"], "-url", url, "-no_nonce",
                      "-CAfile", ca_pem, "-resp_text").stdout
        self.assertIn(": good", out)
        assert_error(self, self.c.delete(f"/api/v1/cas/{tid}"), 400, "confirmation_required")
        assert_error(self, self.c.delete(f"/api/v1/cas/{tid}?confirm=temp"), 400)
        self.assertEqual(self.c.delete(f"/api/v1/cas/{tid}?confirm=Temp").status, 204)
        assert_error(self, self.c.get(f"/api/v1/cas/{tid}"), 404, "not_found")
        self.assertEqual(http("GET", f"{self.d.url}/pki/ca/{tid}/cert").status, 404)
        # ... is not answered from the cache once the CA is gone: unauthorized (6).
        reqder = os.path.join(self.work, "temp-req.der")
        openssl("ocsp", "-issuer", ca_pem, "-cert", leaf["path"], "-no_nonce", "-reqout", reqder)
        r = http("POST", url, body=open(reqder, "rb").read(),
                 headers={"Content-Type": "application/ocsp-request"})
        self.assertEqual(r.body, bytes.fromhex("30030a0106"))

    # ---- workflows ----

    def test_submitted_csr_leaf_verifies_and_downloads(self):
        leaf = self.issue("www")
        self.verify(leaf["path"])
        cert = cert_of(leaf["pem"])
        san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
        self.assertEqual(san.get_values_for_type(x509.DNSName), ["www.example.com"])
        aia = cert.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_INFORMATION_ACCESS)
        self.assertIn(f"127.0.0.1:{self.pport}/pki/ca/{self.inter['id']}/ocsp", str(aia.value))
        cid = leaf["id"]
        der = self.c.get(f"/api/v1/certificates/{cid}/download?format=der").body
        self.assertEqual(x509.load_der_x509_certificate(der), cert)
        chain = self.c.get(f"/api/v1/certificates/{cid}/download?format=chain").body.decode()
        self.assertEqual(chain.count("BEGIN CERTIFICATE"), 3)
        p7 = write(self.work, "leaf.p7b",
                   self.c.get(f"/api/v1/certificates/{cid}/download?format=p7").body)
        out = openssl("pkcs7", "-inform", "DER", "-in", p7, "-print_certs").stdout
        self.assertEqual(out.count("BEGIN CERTIFICATE"), 3)
        assert_error(self, self.c.get(f"/api/v1/certificates/{cid}/download?format=zip"), 400)
        # Listing and filtering.
        listed = self.c.get(f"/api/v1/cas/{self.inter['id']}/certificates?q=www.example"
                            ).json()["certificates"]
        self.assertIn(cid, [x["id"] for x in listed])

    def test_every_csr_key_type_is_accepted(self):
        for key in ("rsa:2048", "rsa:4096", "ed25519"):
            with self.subTest(key):
                _, csr = make_csr(self.work, "k" + key.replace(":", ""), "/CN=keys.example.com",
                                  ("DNS:keys.example.com",), key=key)
                r = self.c.post(f"/api/v1/templates/{self.web['id']}/requests", {"csr": csr})
                self.assertEqual(r.status, 201, r.body)

    def test_bad_csrs_and_dates(self):
        url = f"/api/v1/templates/{self.web['id']}/requests"
        assert_error(self, self.c.post(url, {"csr": "not a csr"}), 400, "bad_csr")
        _, csr = make_csr(self.work, "tamper", "/CN=t.example.com", ("DNS:t.example.com",))
        b = csr.splitlines()
        mid = len(b) // 2
        b[mid] = b[mid][:-4] + ("AAAA" if not b[mid].endswith("AAAA") else "BBBB")
        assert_error(self, self.c.post(url, {"csr": "\n".join(b)}), 400, "bad_csr")
        _, weak = make_csr(self.work, "weak", "/CN=w.example.com", key="rsa:1024")
        r = self.c.post(url, {"csr": weak})
        self.assertEqual(r.status, 400, r.body)
        self.assertIn(r.json()["error"]["code"], ("bad_csr", "bad_key_type"))
        # Bad overrides at approval: the request stays pending.
        _, csr = make_csr(self.work, "dates", "/CN=d.example.com", ("DNS:d.example.com",))
        rid = self.c.post(url, {"csr": csr}).json()["id"]
        for ov in ({"not_before": "yesterday"}, {"not_after": "2020-01-01T00:00:00Z"},
                   {"not_before": "2030-01-02T00:00:00Z", "not_after": "2030-01-01T00:00:00Z"},
                   {"validity_days": 0}, {"sans": ["FTP:x"]}, {"subject": "CN"}):
            with self.subTest(ov=ov):
                r = self.c.post(f"/api/v1/requests/{rid}/approve", ov)
                self.assertEqual(r.status, 400, r.body)
        self.assertEqual(self.c.get(f"/api/v1/requests/{rid}").json()["status"], "pending")

    def test_approve_with_overrides_and_future_start(self):
        cert = self.issue("override", overrides={
            "subject": "/O=Example/CN=renamed.example.com",
            "sans": ["DNS:renamed.example.com", "IP:192.0.2.7"],
            "not_before": "2031-01-01T00:00:00Z", "not_after": "2031-06-30T00:00:00Z"})
        c = cert_of(cert["pem"])
        self.assertEqual(c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value,
                         "renamed.example.com")
        san = c.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
        self.assertEqual(san.get_values_for_type(x509.DNSName), ["renamed.example.com"])
        self.assertEqual([str(i) for i in san.get_values_for_type(x509.IPAddress)],
                         ["192.0.2.7"])
        self.assertEqual(c.not_valid_before.isoformat(), "2031-01-01T00:00:00")
        self.assertEqual(c.not_valid_after.isoformat(), "2031-06-30T00:00:00")
        c2 = cert_of(self.issue("days", overrides={"validity_days": 10})["pem"])
        self.assertEqual((c2.not_valid_after - c2.not_valid_before).days, 10)

    def test_public_request(self):
        tpl = self.c.post(f"/api/v1/cas/{self.inter['id']}/templates",
                          {"name": "Public", "starter": "Client Authentication"}).json()
        _, csr = make_csr(self.work, "pub", "/CN=visitor")
        url = f"{self.d.url}/api/v1/public/templates/{tpl['id']}/requests"
        assert_error(self, http("POST", url, body={"csr": csr}), 404, "not_found")
        r = self.c.request("PATCH", f"/api/v1/templates/{tpl['id']}",
                           body={"settings": {"allow_public": True}})
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(r.json()["urls"]["public_request"].endswith(f"/request/{tpl['id']}"))
        r = http("POST", url, body={"csr": csr})
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(r.json()["source"], "public")
        r = self.c.post(f"/api/v1/requests/{r.json()['id']}/approve", {})
        self.assertEqual(r.status, 200, r.body)
        c = cert_of(r.json()["certificate"]["pem"])
        eku = c.extensions.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE).value
        self.assertEqual([e.dotted_string for e in eku], ["1.3.6.1.5.5.7.3.2"])

    def test_preapproved_claim(self):
        r = self.c.post(f"/api/v1/templates/{self.web['id']}/preapproved",
                        {"subject": "/CN=device-1.example.com",
                         "sans": ["DNS:device-1.example.com"], "validity_days": 30})
        self.assertEqual(r.status, 201, r.body)
        token = r.json()["claim_token"]
        self.assertIn("/claim#token=", r.json()["claim_url"])
        _, csr = make_csr(self.work, "claim", "/CN=evil.example.com", ("DNS:evil.example.com",))
        url = f"{self.d.url}/api/v1/public/claim"
        wrong = token[:-1] + ("y" if token[-1] == "x" else "x")
        assert_error(self, http("POST", url, body={"token": wrong, "csr": csr}), 404)
        r = http("POST", url, body={"token": token, "csr": csr})
        self.assertEqual(r.status, 201, r.body)
        c = cert_of(r.json()["pem"])
        self.assertEqual(c.subject.rfc4514_string(), "CN=device-1.example.com")
        san = c.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
        self.assertEqual(san.get_values_for_type(x509.DNSName), ["device-1.example.com"])
        self.assertEqual((c.not_valid_after - c.not_valid_before).days, 30)
        self.assertEqual(r.json()["chain_pem"].count("BEGIN CERTIFICATE"), 3)
        assert_error(self, http("POST", url, body={"token": token, "csr": csr}), 404)

    def test_bulk_and_decline(self):
        ids = []
        for i in range(3):
            _, csr = make_csr(self.work, f"bulk{i}", f"/CN=bulk{i}.example.com",
                              (f"DNS:bulk{i}.example.com",))
            ids.append(self.c.post(f"/api/v1/templates/{self.web['id']}/requests",
                                   {"csr": csr}).json()["id"])
        base = f"/api/v1/cas/{self.inter['id']}/requests"
        r = self.c.post(base + "/bulk", {"action": "approve", "ids": ids[:2] + [999999]})
        self.assertEqual(r.status, 200, r.body)
        res = {x["id"]: x["status"] for x in r.json()["results"]}
        self.assertEqual(res, {ids[0]: "issued", ids[1]: "issued", 999999: "not_found"})
        r = self.c.post(base + "/bulk", {"action": "decline", "ids": [ids[2], ids[0]]})
        res = {x["id"]: x["status"] for x in r.json()["results"]}
        self.assertEqual(res, {ids[2]: "declined", ids[0]: "already_decided"})
        assert_error(self, self.c.post(f"/api/v1/requests/{ids[2]}/approve", {}), 409)
        pending = self.c.get(base + "?status=pending").json()["requests"]
        self.assertFalse(set(ids) & {p["id"] for p in pending})

    # ---- revocation, CRL, OCSP ----

    def ocsp(self, cert_path=None, serial=None, nonce=True):
        args = ["ocsp", "-issuer", self.inter_pem, "-url",
                f"http://127.0.0.1:{self.pport}/pki/ca/{self.inter['id']}/ocsp",
                "-CAfile", self.root_pem, "-verify_other", self.inter_pem, "-resp_text"]
        args += ["-cert", cert_path] if cert_path else ["-serial", serial]
        if not nonce:
            args.append("-no_nonce")
        r = openssl(*args, check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("Response verify OK", r.stderr + r.stdout)
        self.assertNotIn("WARNING", r.stderr)
        return r.stdout

    def test_ocsp_crl_revoke_hold_unrevoke(self):
        good = self.issue("o-good", "/CN=good.example.com", ("DNS:good.example.com",))
        bad = self.issue("o-bad", "/CN=bad.example.com", ("DNS:bad.example.com",))
        held = self.issue("o-held", "/CN=held.example.com", ("DNS:held.example.com",))
        for path in (good["path"], bad["path"], held["path"]):
            self.assertIn(": good", self.ocsp(path))
        # Cached answers (no nonce) are served too, and are still right after revocation.
        self.assertIn(": good", self.ocsp(bad["path"], nonce=False))
        r = self.c.post(f"/api/v1/certificates/{bad['id']}/revoke", {"reason": "keyCompromise"})
        self.assertEqual(r.status, 200, r.body)
        r = self.c.post(f"/api/v1/certificates/{held['id']}/revoke",
                        {"reason": "certificateHold"})
        self.assertEqual(r.status, 200, r.body)
        out = self.ocsp(bad["path"], nonce=False)
        self.assertIn(": revoked", out)
        self.assertIn("Reason: keyCompromise", out)
        out = self.ocsp(held["path"])
        self.assertIn(": revoked", out)
        self.assertIn("Reason: certificateHold", out)
        self.assertIn(": good", self.ocsp(good["path"]))
        self.assertIn(": unknown", self.ocsp(serial="0x123456789abcdef"))
        # OCSP GET (RFC 5019): the request in the URL.
        reqder = os.path.join(self.work, "req.der")
        openssl("ocsp", "-issuer", self.inter_pem, "-cert", bad["path"], "-no_nonce",
                "-reqout", reqder)
        b64 = urllib.request.quote(base64.b64encode(open(reqder, "rb").read()).decode(), safe="")
        r = http("GET", f"http://127.0.0.1:{self.pport}/pki/ca/{self.inter['id']}/ocsp/{b64}")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["Content-Type"], "application/ocsp-response")
        self.assertIn("max-age=", r.headers.get("Cache-Control", ""))
        resp = write(self.work, "resp.der", r.body)
        out = openssl("ocsp", "-respin", resp, "-issuer", self.inter_pem, "-cert", bad["path"],
                      "-CAfile", self.root_pem, "-verify_other", self.inter_pem).stdout
        self.assertIn(": revoked", out)
        # CRL: exactly the revoked serials with their reasons, signature verified by openssl.
        crl_path = write(self.work, "crl.der",
                         http("GET", self.inter["urls"]["crl"]).body)
        chain = write(self.work, "chain.pem", open(self.inter_pem).read() +
                      open(self.root_pem).read())
        r = openssl("crl", "-inform", "DER", "-in", crl_path, "-CAfile", chain, "-verify",
                    "-noout", "-text")
        self.assertIn("verify OK", r.stderr + r.stdout)
        crl = x509.load_der_x509_crl(open(crl_path, "rb").read())
        revoked = {format(e.serial_number, "x"): e.extensions.get_extension_for_class(
            x509.CRLReason).value.reason.name for e in crl}
        serial = lambda c: format(cert_of(c["pem"]).serial_number, "x")
        self.assertEqual(revoked, {serial(bad): "key_compromise",
                                   serial(held): "certificate_hold"})
        number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
        # Unrevoke from hold: OCSP good again, CRL remade without it and with a higher number.
        assert_error(self, self.c.post(f"/api/v1/certificates/{bad['id']}/unrevoke"), 409,
                     "not_on_hold")
        r = self.c.post(f"/api/v1/certificates/{held['id']}/unrevoke")
        self.assertEqual(r.status, 200, r.body)
        self.assertIn(": good", self.ocsp(held["path"], nonce=False))
        crl2 = x509.load_der_x509_crl(http("GET", self.inter["urls"]["crl"]).body)
        self.assertEqual({format(e.serial_number, "x") for e in crl2}, {serial(bad)})
        self.assertGreater(
            crl2.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number, number)
        # Revoked for good stays revoked; a second hold on a held one is refused.
        assert_error(self, self.c.post(f"/api/v1/certificates/{bad['id']}/revoke",
                                       {"reason": "superseded"}), 409, "already_revoked")
        assert_error(self, self.c.post(f"/api/v1/certificates/{good['id']}/revoke",
                                       {"reason": "noSuchReason"}), 400, "bad_reason")

    def test_ocsp_malformed_and_unauthorized(self):
        url = f"http://127.0.0.1:{self.pport}/pki/ca/{self.inter['id']}/ocsp"
        r = http("POST", url, body=b"\x30\x03\x02\x01\x01",
                 headers={"Content-Type": "application/ocsp-request"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, bytes.fromhex("30030a0101"))  # malformedRequest
        for bad in ("!!!notbase64", base64.b64encode(b"\x30\x80garbage").decode(),
                    "A" * 1000):
            r = http("GET", url + "/" + urllib.request.quote(bad, safe=""))
            self.assertEqual((r.status, r.body), (200, bytes.fromhex("30030a0101")), bad[:20])
        # A request line too long for the HTTP layer is dropped; the responder stays up.
        try:
            r = http("GET", url + "/" + "A" * 3000)
            self.assertGreaterEqual(r.status, 400)
        except OSError:
            pass
        self.assertEqual(http("GET", f"http://127.0.0.1:{self.pport}/healthz").status, 200)
        r = http("POST", url, body=b"", headers={"Content-Type": "application/ocsp-request"})
        self.assertEqual(r.body, bytes.fromhex("30030a0101"))
        r = http("PUT", url, body=b"x")
        assert_error(self, r, 405, "method_not_allowed")
        # Asking the root's responder about the intermediate's certificate: unauthorized.
        leaf = self.issue("o-wrong-ca")
        reqder = os.path.join(self.work, "req2.der")
        openssl("ocsp", "-issuer", self.inter_pem, "-cert", leaf["path"], "-reqout", reqder)
        r = http("POST", f"http://127.0.0.1:{self.pport}/pki/ca/{self.root['id']}/ocsp",
                 body=open(reqder, "rb").read(),
                 headers={"Content-Type": "application/ocsp-request"})
        self.assertEqual(r.body, bytes.fromhex("30030a0106"))
        # The API is not on the plain-HTTP listener.
        self.assertEqual(http("GET", f"http://127.0.0.1:{self.pport}/api/v1/me").status, 404)

    def test_ocsp_responder_certificate_remade(self):
        leaf = self.issue("o-renew")
        before = self.c.get(f"/api/v1/cas/{self.inter['id']}").json()["ocsp_certificate_id"]
        r = self.c.post(f"/api/v1/cas/{self.inter['id']}/ocsp-certificate")
        self.assertEqual(r.status, 200, r.body)
        after = r.json()["ocsp_certificate_id"]
        self.assertNotEqual(after, before)
        kinds = {x["id"]: x["kind"] for x in self.c.get(
            f"/api/v1/cas/{self.inter['id']}/certificates?limit=1000").json()["certificates"]}
        self.assertEqual(kinds[after], "ocsp")  # visible among issued certificates (CA-8)
        # Fresh answers (nonce) are signed by the new responder and verify.
        out = self.ocsp(leaf["path"])
        self.assertIn(": good", out)
        cert = self.c.get(f"/api/v1/certificates/{after}").json()["pem"]
        self.assertIn(cert.strip().splitlines()[1], out)

    def test_template_deletion_rule(self):
        tpl = self.c.post(f"/api/v1/cas/{self.inter['id']}/templates",
                          {"name": "Short-lived", "starter": "Web Server"}).json()
        a = self.issue("t-a", template=tpl)
        b = self.issue("t-b", template=tpl)
        assert_error(self, self.c.delete(f"/api/v1/templates/{tpl['id']}"), 409,
                     "template_in_use")
        self.c.post(f"/api/v1/certificates/{a['id']}/revoke", {"reason": "superseded"})
        self.c.post(f"/api/v1/certificates/{b['id']}/revoke", {"reason": "certificateHold"})
        # A certificate on hold still counts as active.
        assert_error(self, self.c.delete(f"/api/v1/templates/{tpl['id']}"), 409,
                     "template_in_use")
        self.c.post(f"/api/v1/certificates/{b['id']}/revoke", {"reason": "cessationOfOperation"})
        self.assertEqual(self.c.delete(f"/api/v1/templates/{tpl['id']}").status, 204)
        assert_error(self, self.c.get(f"/api/v1/templates/{tpl['id']}"), 404)

    def test_template_options_validated(self):
        base = f"/api/v1/cas/{self.inter['id']}/templates"
        for settings in ({"validity_days": 0}, {"key_usage": ["flying"]},
                         {"extended_key_usage": ["1.2.x"]}, {"is_ca": True},
                         {"path_len": 2}, {"include_policies": True},
                         {"cps_url": "ftp://x"}, {"unknown_option": 1}):
            with self.subTest(settings=settings):
                r = self.c.post(base, {"name": "bad", "settings": settings})
                assert_error(self, r, 400, "bad_template")
        r = self.c.post(base, {"name": "Custom", "settings": {
            "validity_days": 90, "key_usage": ["digitalSignature"],
            "extended_key_usage": ["clientAuth", "1.3.6.1.4.1.99999.1"],
            "include_policies": True, "policy_oid": "1.3.6.1.4.1.99999.2",
            "include_cdp": False}})
        self.assertEqual(r.status, 201, r.body)
        c = cert_of(self.issue("custom", "/CN=custom", (), template=r.json())["pem"])
        eku = c.extensions.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE).value
        self.assertEqual([e.dotted_string for e in eku],
                         ["1.3.6.1.5.5.7.3.2", "1.3.6.1.4.1.99999.1"])
        pol = c.extensions.get_extension_for_oid(ExtensionOID.CERTIFICATE_POLICIES).value
        self.assertEqual(pol[0].policy_identifier.dotted_string, "1.3.6.1.4.1.99999.2")
        self.assertIn(f"/pki/ca/{self.inter['id']}/cps", str(pol[0].policy_qualifiers))
        with self.assertRaises(x509.ExtensionNotFound):
            c.extensions.get_extension_for_oid(ExtensionOID.CRL_DISTRIBUTION_POINTS)
        self.assertEqual((c.not_valid_after - c.not_valid_before).days, 90)


if __name__ == "__main__":
    unittest.main()
