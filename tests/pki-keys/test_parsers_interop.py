"""Our parsers on what independent tools make: CSRs from `openssl req` (every key type and
signature algorithm, PSS included) and python3-cryptography, OCSP requests from `openssl ocsp
-reqout` (with and without nonce) and python, CRLs from `openssl ca -gencrl`, certificates from
openssl. Fields must match what python3-cryptography reads from the same bytes; signatures must
verify, and tampered inputs must be refused."""
import datetime
import hashlib
import json
import os
import unittest

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from keyslib import TmpDirTest, keytool, openssl, openssl_genkey

CSR_CASES = [
    ("rsa", ["-sha256"], "sha256WithRSAEncryption"),
    ("rsa", ["-sha384"], "sha384WithRSAEncryption"),
    ("rsa", ["-sha512"], "sha512WithRSAEncryption"),
    ("rsa", ["-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"],
     "rsassa-pss-sha256"),
    ("rsa", ["-sha384", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"],
     "rsassa-pss-sha384"),
    ("rsa", ["-sha512", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"],
     "rsassa-pss-sha512"),
    ("ec-p256", ["-sha256"], "ecdsa-with-SHA256"),
    ("ec-p384", ["-sha384"], "ecdsa-with-SHA384"),
    ("ec-p521", ["-sha512"], "ecdsa-with-SHA512"),
    ("ec-p256", ["-sha512"], "ecdsa-with-SHA512"),
    ("ed25519", [], "Ed25519"),
]

SAN = ("subjectAltName=DNS:www.example.com,DNS:example.com,IP:192.0.2.7,IP:2001:db8::1,"
       "email:ops@example.com,URI:https://example.com/id,"
       "otherName:1.3.6.1.4.1.311.20.2.3;UTF8:alice@corp.example")


def utc_ts(obj, attr):
    """A time attribute as epoch seconds, on old (naive UTC) and new (_utc) cryptography."""
    if hasattr(obj, attr + "_utc"):
        return int(getattr(obj, attr + "_utc").timestamp())
    return int(getattr(obj, attr).replace(tzinfo=datetime.timezone.utc).timestamp())


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def flip_in(data, needle):
    """data with one bit changed inside the first occurrence of needle."""
    at = data.index(needle)
    b = bytearray(data)
    b[at] ^= 0x01
    return bytes(b)


class Csr(TmpDirTest):
    def test_openssl_csrs_every_key_and_algorithm(self):
        keys = {}
        for kind, opts, alg in CSR_CASES:
            with self.subTest(kind=kind, alg=alg):
                if kind not in keys:
                    keys[kind] = self.path(f"{kind}.key")
                    openssl_genkey(kind, keys[kind])
                req = self.path("req.der")
                openssl("req", "-new", "-key", keys[kind], *opts, "-outform", "DER", "-out", req,
                        "-subj", "/C=DE/O=Example, Inc./OU=Ops+Dev/CN=www.example.com",
                        "-addext", SAN, "-addext", "keyUsage=critical,digitalSignature",
                        "-addext", "extendedKeyUsage=serverAuth,clientAuth,1.3.6.1.4.1.99999.1",
                        "-addext", "basicConstraints=critical,CA:FALSE")
                got = json.loads(keytool("csr", req).stdout)
                ref = x509.load_der_x509_csr(self.read("req.der"))
                self.assertTrue(ref.is_signature_valid)
                self.assertEqual(got["sig_alg"], alg)
                self.assertEqual(got["key_type"], kind)
                self.assertEqual(got["subject"], ref.subject.rfc4514_string())
                san = ref.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                ours = [(e["type"], e["value"]) for e in got["ext"]["san"]]
                self.assertEqual(ours[:2], [(2, n) for n in san.get_values_for_type(x509.DNSName)])
                self.assertEqual([v for t, v in ours if t == 7],
                                 [str(a) for a in san.get_values_for_type(x509.IPAddress)])
                self.assertIn((1, "ops@example.com"), ours)
                self.assertIn((6, "https://example.com/id"), ours)
                self.assertIn((100, "alice@corp.example"), ours)
                self.assertEqual(got["ext"]["eku"],
                                 ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2", "1.3.6.1.4.1.99999.1"])
                self.assertEqual(got["ext"]["key_usage"], 1)
                self.assertEqual(got["ext"]["bc"], {"ca": False, "path_len": -1})
                crit = {e["oid"]: e["critical"] for e in got["ext"]["list"]}
                self.assertTrue(crit["2.5.29.15"])
                self.assertFalse(crit["2.5.29.17"])
                # PEM works too.
                pem = self.path("req.pem")
                openssl("req", "-in", req, "-inform", "DER", "-out", pem)
                self.assertEqual(json.loads(keytool("csr", pem).stdout)["subject"], got["subject"])
                # Tampered: one bit of the subject changed -> the signature no longer verifies.
                bad = self.write("bad.der", flip_in(self.read("req.der"), b"www.example.com"))
                p = keytool("csr", bad, check=False)
                self.assertEqual(p.returncode, 1)
                self.assertEqual(p.stderr.decode().strip(), "CSR signature does not verify")
                # Signature bits changed.
                raw = bytearray(self.read("req.der"))
                raw[-5] ^= 0x40
                p = keytool("csr", self.write("bad2.der", bytes(raw)), check=False)
                self.assertEqual(p.returncode, 1)
                # Truncated.
                p = keytool("csr", self.write("bad3.der", self.read("req.der")[:-1]), check=False)
                self.assertEqual(p.returncode, 1)
                self.assertIn("malformed", p.stderr.decode())

    def test_python_csr_with_challenge_password(self):
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "device-42"),
                                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ex=\"Co\"")]))
               .add_attribute(x509.oid.AttributeOID.CHALLENGE_PASSWORD, b"one-time-secret")
               .add_extension(x509.SubjectAlternativeName([x509.DNSName("device-42.example")]),
                              critical=False)
               .sign(key, hashes.SHA256()))
        p = self.write("py.pem", csr.public_bytes(serialization.Encoding.PEM))
        got = json.loads(keytool("csr", p).stdout)
        self.assertTrue(got["has_challenge"])
        self.assertEqual(got["subject"], csr.subject.rfc4514_string())
        self.assertEqual(got["ext"]["san"], [{"type": 2, "value": "device-42.example"}])

    def test_pss_with_other_salt_is_refused_clearly(self):
        key = self.path("rsa.key")
        openssl_genkey("rsa", key)
        req = self.path("req.der")
        openssl("req", "-new", "-key", key, "-sha256", "-sigopt", "rsa_padding_mode:pss",
                "-sigopt", "rsa_pss_saltlen:max", "-outform", "DER", "-out", req, "-subj", "/CN=x")
        p = keytool("csr", req, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr.decode().strip(),
                         "CSR: unsupported RSASSA-PSS parameters (SHA-256/384/512, MGF1 with the "
                         "same hash, salt length = hash length)")
        # A DSA-signed CSR: an algorithm we do not do at all.
        dsa = self.path("dsa.key")
        openssl("genpkey", "-genparam", "-algorithm", "DSA", "-pkeyopt", "dsa_paramgen_bits:2048",
                "-out", self.path("dsa.param"))
        openssl("genpkey", "-paramfile", self.path("dsa.param"), "-out", dsa)
        openssl("req", "-new", "-key", dsa, "-sha256", "-outform", "DER", "-out", req, "-subj", "/CN=x")
        p = keytool("csr", req, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr.decode().strip(),
                         "CSR: unsupported public key algorithm 1.2.840.10040.4.1")


class CaDir:
    """A throwaway `openssl ca` directory with a CA of the given key type."""

    def __init__(self, test, kind):
        self.t = test
        d = test.path(f"ca-{kind}")
        os.makedirs(os.path.join(d, "newcerts"))
        self.dir = d
        open(os.path.join(d, "index.txt"), "w").close()
        with open(os.path.join(d, "serial"), "w") as f:
            f.write("1000\n")
        with open(os.path.join(d, "crlnumber"), "w") as f:
            f.write("2A\n")
        md = "default" if kind == "ed25519" else "sha256"
        self.cnf = os.path.join(d, "ca.cnf")
        with open(self.cnf, "w") as f:
            f.write(f"""[ca]
default_ca = CA_default
[CA_default]
dir = {d}
database = $dir/index.txt
new_certs_dir = $dir/newcerts
certificate = $dir/ca.pem
private_key = $dir/ca.key
serial = $dir/serial
crlnumber = $dir/crlnumber
default_md = {md}
default_days = 30
default_crl_days = 7
policy = policy_any
copy_extensions = copy
crl_extensions = crl_ext
x509_extensions = leaf_ext
[policy_any]
commonName = supplied
[crl_ext]
authorityKeyIdentifier = keyid:always
[leaf_ext]
basicConstraints = critical,CA:FALSE
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
""")
        self.key = os.path.join(d, "ca.key")
        self.cert = os.path.join(d, "ca.pem")
        openssl_genkey(kind, self.key)
        openssl("req", "-x509", "-new", "-key", self.key, "-subj", f"/O=Example/CN=CA {kind}",
                "-days", "30", "-out", self.cert, "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    def issue(self, name):
        key = os.path.join(self.dir, f"{name}.key")
        req = os.path.join(self.dir, f"{name}.csr")
        cert = os.path.join(self.dir, f"{name}.pem")
        openssl_genkey("ec-p256", key)
        openssl("req", "-new", "-key", key, "-subj", f"/CN={name}", "-out", req,
                "-addext", f"subjectAltName=DNS:{name}.example")
        openssl("ca", "-batch", "-config", self.cnf, "-in", req, "-out", cert, "-notext")
        return cert

    def ca(self, *args):
        return openssl("ca", "-batch", "-config", self.cnf, *args)


class Crl(TmpDirTest):
    def test_openssl_ca_gencrl(self):
        for kind in ("rsa", "ec-p384", "ed25519"):
            with self.subTest(kind=kind):
                ca = CaDir(self, kind)
                c1, c2, c3, c4 = (ca.issue(n) for n in ("one", "two", "three", "four"))
                ca.ca("-revoke", c1, "-crl_reason", "keyCompromise")
                ca.ca("-revoke", c2, "-crl_reason", "superseded")
                ca.ca("-revoke", c3, "-crl_compromise", "20260102030405Z")
                ca.ca("-revoke", c4)
                crl_pem = self.path(f"{kind}.crl.pem")
                ca.ca("-gencrl", "-out", crl_pem)
                got = json.loads(keytool("crl", crl_pem, ca.cert).stdout)
                ref = x509.load_pem_x509_crl(self.read(f"{kind}.crl.pem"))
                self.assertTrue(got["verified"])
                self.assertEqual(got["version"], 2)
                self.assertEqual(got["issuer"], ref.issuer.rfc4514_string())
                self.assertEqual(got["crl_number"], "2a")
                self.assertEqual(got["this_update"], utc_ts(ref, "last_update"))
                self.assertEqual(got["next_update"], utc_ts(ref, "next_update"))
                serials = {format(x509.load_pem_x509_certificate(read_file(c)).serial_number, "x"): c
                           for c in (c1, c2, c3, c4)}
                self.assertEqual(len(got["entries"]), 4)
                reasons = {}
                for e in got["entries"]:
                    self.assertIn(e["serial"], serials)
                    reasons[serials[e["serial"]]] = (e["reason"], e["invalidity"])
                    r = ref.get_revoked_certificate_by_serial_number(int(e["serial"], 16))
                    self.assertEqual(e["date"], utc_ts(r, "revocation_date"))
                self.assertEqual(reasons[c1], (1, 0))
                self.assertEqual(reasons[c2], (4, 0))
                inv = int(datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc).timestamp())
                self.assertEqual(reasons[c3], (1, inv))
                self.assertEqual(reasons[c4], (-1, 0))
                aki = ref.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
                self.assertEqual(got["ext"]["aki"], aki.key_identifier.hex())
                # Tampered (one entry's date changed): still parses, no longer verifies.
                der = self.path("crl.der")
                openssl("crl", "-in", crl_pem, "-outform", "DER", "-out", der)
                raw = bytearray(self.read("crl.der"))
                at = raw.index(bytes.fromhex(got["entries"][0]["serial"]))
                raw[at] ^= 0x01
                bad = json.loads(keytool("crl", self.write("bad.der", bytes(raw)), ca.cert).stdout)
                self.assertFalse(bad["verified"])

    def test_empty_crl_and_wrong_issuer(self):
        ca = CaDir(self, "ec-p256")
        other = self.path("other.pem")
        k = self.path("other.key")
        openssl_genkey("ec-p256", k)
        openssl("req", "-x509", "-new", "-key", k, "-subj", "/CN=Other", "-out", other)
        crl = self.path("empty.crl")
        ca.ca("-gencrl", "-out", crl)
        got = json.loads(keytool("crl", crl, ca.cert).stdout)
        self.assertEqual(got["entries"], [])
        self.assertTrue(got["verified"])
        self.assertFalse(json.loads(keytool("crl", crl, other).stdout)["verified"])


class OcspRequest(TmpDirTest):
    def setUp(self):
        super().setUp()
        self.ca = CaDir(self, "rsa")
        self.leaf = self.ca.issue("leaf")
        self.issuer = x509.load_pem_x509_certificate(read_file(self.ca.cert))
        self.leaf_cert = x509.load_pem_x509_certificate(read_file(self.leaf))

    def test_openssl_reqout_with_and_without_nonce(self):
        for nonce in (True, False):
            for digest, code, h in (("-sha1", 1, "sha1"), ("-sha256", 2, "sha256")):
                with self.subTest(nonce=nonce, digest=digest):
                    req = self.path("req.der")
                    args = ["ocsp", "-issuer", self.ca.cert, digest, "-cert", self.leaf,
                            "-reqout", req]
                    if not nonce:
                        args.append("-no_nonce")
                    openssl(*args)
                    got = json.loads(keytool("ocsp", req).stdout)
                    ref = ocsp.load_der_ocsp_request(self.read("req.der"))
                    self.assertEqual(got["has_nonce"], nonce)
                    self.assertFalse(got["signed"])
                    self.assertEqual(len(got["ids"]), 1)
                    first = got["ids"][0]
                    self.assertEqual(first["hash"], code)
                    self.assertEqual(int(first["serial"], 16), self.leaf_cert.serial_number)
                    self.assertEqual(first["name_hash"],
                                     hashlib.new(h, self.issuer.subject.public_bytes()).hexdigest())
                    self.assertEqual(first["name_hash"], ref.issuer_name_hash.hex())
                    self.assertEqual(first["key_hash"], ref.issuer_key_hash.hex())
                    if nonce:
                        ext = ref.extensions.get_extension_for_class(x509.OCSPNonce).value
                        self.assertEqual(got["nonce"], ext.nonce.hex())
                        self.assertEqual(len(ext.nonce), 16)

    def test_openssl_reqout_several_certificates(self):
        req = self.path("multi.der")
        openssl("ocsp", "-issuer", self.ca.cert, "-cert", self.leaf, "-serial", "0xDEADBEEF01",
                "-serial", "7", "-reqout", req)
        got = json.loads(keytool("ocsp", req).stdout)
        self.assertEqual([int(i["serial"], 16) for i in got["ids"]],
                         [self.leaf_cert.serial_number, 0xDEADBEEF01, 7])
        self.assertEqual(len({i["key_hash"] for i in got["ids"]}), 1)

    def test_python_request_and_refusals(self):
        req = (ocsp.OCSPRequestBuilder()
               .add_certificate(self.leaf_cert, self.issuer, hashes.SHA384())
               .add_extension(x509.OCSPNonce(b"\x01" * 32), critical=False)
               .build())
        der = req.public_bytes(serialization.Encoding.DER)
        got = json.loads(keytool("ocsp", self.write("py.der", der)).stdout)
        self.assertEqual(got["ids"][0]["hash"], 3)
        self.assertEqual(got["nonce"], "01" * 32)
        self.assertEqual(got["ids"][0]["key_hash"], req.issuer_key_hash.hex())
        for bad, why in ((der[:-1], "malformed"), (der + b"\x00", "malformed"),
                         (b"\x30\x80" + der[2:], "malformed"), (b"", "empty")):
            p = keytool("ocsp", self.write("bad.der", bad), check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn(why, p.stderr.decode())


class Certificate(TmpDirTest):
    def test_openssl_chain_fields_and_signatures(self):
        for kind in ("rsa", "ec-p521", "ed25519"):
            with self.subTest(kind=kind):
                ca = CaDir(self, kind)
                leaf = ca.issue("host")
                got = json.loads(keytool("cert", leaf, ca.cert).stdout)
                ref = x509.load_pem_x509_certificate(read_file(leaf))
                self.assertTrue(got["verified"])
                self.assertEqual(got["subject"], ref.subject.rfc4514_string())
                self.assertEqual(got["issuer"], ref.issuer.rfc4514_string())
                self.assertEqual(int(got["serial"], 16), ref.serial_number)
                self.assertEqual(got["not_before"], utc_ts(ref, "not_valid_before"))
                self.assertEqual(got["not_after"], utc_ts(ref, "not_valid_after"))
                self.assertEqual(got["key_type"], "ec-p256")
                self.assertEqual(got["ext"]["san"], [{"type": 2, "value": "host.example"}])
                ski = ref.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
                self.assertEqual(got["ext"]["ski"], ski.digest.hex())
                ca_got = json.loads(keytool("cert", ca.cert).stdout)
                self.assertEqual(got["ext"]["aki"], ca_got["ext"]["ski"])
                self.assertEqual(ca_got["key_type"], kind)
                # Verified against the wrong key: refused.
                self.assertFalse(json.loads(keytool("cert", leaf, leaf).stdout)["verified"])


class ToBeSigned(TmpDirTest):
    """pki_tbs_inspect on the to-be-signed parts of what openssl signs, cut out by
    python3-cryptography: the kind and the facts a signer's policy needs."""

    def tbs(self, data):
        return json.loads(keytool("tbs", self.write("tbs.der", data)).stdout)

    def test_openssl_objects(self):
        ca = CaDir(self, "ec-p384")
        leaf_path = ca.issue("signed")
        cacert = x509.load_pem_x509_certificate(read_file(ca.cert))
        leaf = x509.load_pem_x509_certificate(read_file(leaf_path))
        pub = serialization.PublicFormat.SubjectPublicKeyInfo

        got = self.tbs(leaf.tbs_certificate_bytes)
        self.assertEqual(got["kind"], "certificate")
        self.assertEqual(got["sig_alg"], "ecdsa-with-SHA256")
        self.assertEqual(got["issuer"], cacert.subject.public_bytes().hex())
        self.assertEqual(got["subject"], leaf.subject.public_bytes().hex())
        self.assertEqual(int(got["serial"], 16), leaf.serial_number)
        self.assertEqual(got["spki"], leaf.public_key().public_bytes(serialization.Encoding.DER, pub).hex())
        self.assertFalse(got["is_ca"])
        self.assertEqual(got["not_after"], utc_ts(leaf, "not_valid_after"))
        # The CA certificate itself (self-signed, cA true).
        got = self.tbs(cacert.tbs_certificate_bytes)
        self.assertTrue(got["is_ca"])
        self.assertEqual(got["issuer"], got["subject"])

        ca.ca("-revoke", leaf_path, "-crl_reason", "superseded")
        crl_path = self.path("c.crl")
        ca.ca("-gencrl", "-out", crl_path)
        crl = x509.load_pem_x509_crl(read_file(crl_path))
        got = self.tbs(crl.tbs_certlist_bytes)
        self.assertEqual(got["kind"], "crl")
        self.assertEqual(got["issuer"], cacert.subject.public_bytes().hex())
        self.assertEqual(got["not_before"], utc_ts(crl, "last_update"))

        csr = x509.load_pem_x509_csr(read_file(os.path.join(ca.dir, "signed.csr")))
        got = self.tbs(csr.tbs_certrequest_bytes)
        self.assertEqual(got["kind"], "csr")
        self.assertEqual(got["subject"], csr.subject.public_bytes().hex())

        req = self.path("req.der")
        openssl("ocsp", "-issuer", ca.cert, "-cert", leaf_path, "-reqout", req)
        for by_key in (False, True):
            resp = self.path("resp.der")
            args = ["ocsp", "-index", os.path.join(ca.dir, "index.txt"), "-rsigner", ca.cert,
                    "-rkey", ca.key, "-CA", ca.cert, "-reqin", req, "-respout", resp]
            if by_key:
                args.append("-resp_key_id")
            openssl(*args)
            r = ocsp.load_der_ocsp_response(self.read("resp.der"))
            got = self.tbs(r.tbs_response_bytes)
            self.assertEqual(got["kind"], "ocsp-response")
            self.assertEqual(got["ocsp_responses"], 1)
            if by_key:
                self.assertEqual(got["responder_key_hash"], r.responder_key_hash.hex())
                self.assertEqual(got["responder_name"], "")
            else:
                self.assertEqual(got["responder_name"], r.responder_name.public_bytes().hex())

        # A whole signed certificate is not a to-be-signed structure, nor is junk.
        for bad in (leaf.public_bytes(serialization.Encoding.DER), b"\x30\x00", b"hello"):
            p = keytool("tbs", self.write("bad.der", bad), check=False)
            self.assertEqual(p.returncode, 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
