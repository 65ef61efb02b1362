"""Partitioned CRLs (R-3): a CA with crl_partition_size 2 puts each new certificate in
partition floor(seq / 2); every leaf's cRLDistributionPoints names its partition's URL, which
answers a CRL signed by the CA (openssl crl -verify) with a critical issuingDistributionPoint
naming the same URL and exactly that partition's revoked serials; openssl verify -crl_check
with that CRL rejects the revoked leaf and accepts an unrevoked one of the same partition; a
partition CRL is remade only when its own revocations change; an unknown partition is 404."""
import tempfile
import unittest

from cryptography import x509

from pkitest import free_port, http
from relaytest import add_user, logged_in, make_csr, openssl, relay, write

PW = "correct horse battery"


def serial_hex(cert):
    return format(cert.serial_number, "x")


def crl_number(crl):
    return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


class CrlPartitions(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="relay-crlpart-")
        cls.pport = free_port()
        cls.d = relay('public_http = {{ listen = "127.0.0.1"; port = %d; }};\n' % cls.pport)
        add_user(cls.d, "alice", PW, admin=True)
        cls.d.start()
        cls.c = logged_in(cls.d, "alice", PW)
        r = cls.c.post("/api/v1/cas", {"name": "Part", "type": "root", "key_type": "ec-p256",
                                       "subject": {"CN": "Partitioned CA", "O": "Example"},
                                       "validity_days": 365})
        assert r.status == 201, r.body
        cls.ca = r.json()
        cls.base = f"http://127.0.0.1:{cls.pport}/pki/ca/{cls.ca['id']}/crl"
        cls.ca_pem = write(cls.work, "ca.pem",
                           cls.c.get(f"/api/v1/cas/{cls.ca['id']}/certificate").body.decode())
        tpls = cls.c.get(f"/api/v1/cas/{cls.ca['id']}/templates").json()["templates"]
        cls.web = next(t for t in tpls if t["name"] == "Web Server")

    @classmethod
    def tearDownClass(cls):
        cls.d.__exit__(None, None, None)

    def issue(self, name):
        _, csr = make_csr(self.work, name, f"/CN={name}.example.com",
                          (f"DNS:{name}.example.com",))
        r = self.c.post(f"/api/v1/templates/{self.web['id']}/requests", {"csr": csr})
        self.assertEqual(r.status, 201, r.body)
        r = self.c.post(f"/api/v1/requests/{r.json()['id']}/approve", {})
        self.assertEqual(r.status, 200, r.body)
        cert = r.json()["certificate"]
        cert["path"] = write(self.work, f"{name}.pem", cert["pem"])
        cert["x509"] = x509.load_pem_x509_certificate(cert["pem"].encode())
        return cert

    def cdp(self, cert):
        points = cert["x509"].extensions.get_extension_for_class(
            x509.CRLDistributionPoints).value
        self.assertEqual(len(points), 1)
        return points[0].full_name[0].value

    def fetch_crl(self, url, name):
        r = http("GET", url)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.headers["Content-Type"], "application/pkix-crl")
        der = write(self.work, f"{name}.der", r.body)
        v = openssl("crl", "-inform", "DER", "-in", der, "-CAfile", self.ca_pem, "-verify",
                    "-noout")
        self.assertIn("verify OK", v.stderr + v.stdout)
        pem = f"{self.work}/{name}.pem"
        openssl("crl", "-inform", "DER", "-in", der, "-out", pem)
        return x509.load_der_x509_crl(r.body), pem

    def verify_with(self, crl_pem, leaf):
        return openssl("verify", "-crl_check", "-CAfile", self.ca_pem, "-CRLfile", crl_pem,
                       leaf["path"], check=False)

    def test_partitions(self):
        # Off by default; the setting is validated and shown.
        self.assertEqual(self.c.get(f"/api/v1/cas/{self.ca['id']}").json()["crl_partition_size"],
                         0)
        r = self.c.request("PATCH", f"/api/v1/cas/{self.ca['id']}",
                           body={"crl_partition_size": -1})
        self.assertEqual(r.status, 400, r.body)
        r = self.c.request("PATCH", f"/api/v1/cas/{self.ca['id']}",
                           body={"crl_partition_size": 2})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["crl_partition_size"], 2)

        leaves = [self.issue(f"leaf{i}") for i in range(5)]
        for i, leaf in enumerate(leaves):
            self.assertEqual(self.cdp(leaf), f"{self.base}/{i // 2}.crl", leaf["pem"])
        for leaf in (leaves[0], leaves[4]):
            r = self.c.post(f"/api/v1/certificates/{leaf['id']}/revoke",
                            {"reason": "keyCompromise"})
            self.assertEqual(r.status, 200, r.body)

        expected = {0: {serial_hex(leaves[0]["x509"])}, 1: set(),
                    2: {serial_hex(leaves[4]["x509"])}}
        crls = {}
        for part, revoked in expected.items():
            url = f"{self.base}/{part}.crl"
            crl, pem = self.fetch_crl(url, f"part{part}")
            idp = crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint)
            self.assertTrue(idp.critical)
            self.assertEqual([n.value for n in idp.value.full_name], [url])
            self.assertEqual({serial_hex(e) for e in crl}, revoked)
            crls[part] = (crl, pem)

        # openssl's CRL check with the leaf's own partition CRL (the IDP matches its CDP).
        r = self.verify_with(crls[0][1], leaves[0])
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn("certificate revoked", r.stdout + r.stderr)
        r = self.verify_with(crls[0][1], leaves[1])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = self.verify_with(crls[2][1], leaves[4])
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn("certificate revoked", r.stdout + r.stderr)
        r = self.verify_with(crls[1][1], leaves[3])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

        # The full CRL stays and lists every revoked certificate, without an IDP.
        full, _ = self.fetch_crl(self.base, "full")
        self.assertEqual({serial_hex(e) for e in full}, expected[0] | expected[2])
        with self.assertRaises(x509.ExtensionNotFound):
            full.extensions.get_extension_for_class(x509.IssuingDistributionPoint)

        # Served from the cache; a revocation in partition 0 remakes partition 0 only.
        again, _ = self.fetch_crl(f"{self.base}/2.crl", "part2-again")
        self.assertEqual(crl_number(again), crl_number(crls[2][0]))
        r = self.c.post(f"/api/v1/certificates/{leaves[1]['id']}/revoke",
                        {"reason": "superseded"})
        self.assertEqual(r.status, 200, r.body)
        p0, _ = self.fetch_crl(f"{self.base}/0.crl", "part0-new")
        self.assertEqual({serial_hex(e) for e in p0},
                         expected[0] | {serial_hex(leaves[1]["x509"])})
        self.assertGreater(crl_number(p0), crl_number(crls[0][0]))
        p2, _ = self.fetch_crl(f"{self.base}/2.crl", "part2-new")
        self.assertEqual(crl_number(p2), crl_number(crls[2][0]))

        # Unknown partitions and malformed names are 404; so is another CA's.
        for path in ("3.crl", "99.crl", "00.crl", "-1.crl", "1", "x.crl", "1.crl.crl",
                     "99999999999999999999.crl"):
            self.assertEqual(http("GET", f"{self.base}/{path}").status, 404, path)
        self.assertEqual(http("GET", f"http://127.0.0.1:{self.pport}/pki/ca/999/crl/0.crl").status,
                         404)

    def test_unpartitioned_ca_keeps_the_full_crl(self):
        r = self.c.post("/api/v1/cas", {"name": "Flat", "type": "root", "key_type": "ec-p256",
                                        "subject": {"CN": "Flat CA"}, "validity_days": 365})
        self.assertEqual(r.status, 201, r.body)
        flat = r.json()
        self.assertEqual(flat["urls"]["crl"],
                         f"http://127.0.0.1:{self.pport}/pki/ca/{flat['id']}/crl")
        self.assertEqual(http("GET", flat["urls"]["crl"]).status, 200)
        self.assertEqual(http("GET", flat["urls"]["crl"] + "/0.crl").status, 404)


if __name__ == "__main__":
    unittest.main()
