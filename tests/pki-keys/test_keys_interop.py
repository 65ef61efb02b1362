"""Keys and signatures against independent implementations (openssl CLI, python3-cryptography):
keys we export import into both, keys they make import into ours (every form openssl writes),
every signature algorithm we make verifies with both, theirs verify with ours, and bad keys are
refused with an error that says what is wrong."""
import unittest

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from keyslib import ALGS, KEY_TYPES, TmpDirTest, keytool, openssl, openssl_genkey, openssl_spki

PASSWORD = "pässwörd with spaces"
HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}


def py_verify(pub, alg, msg, sig):
    """Raises InvalidSignature unless sig is a valid alg signature of msg by pub."""
    if alg == "Ed25519":
        pub.verify(sig, msg)
    elif alg.startswith("ecdsa"):
        pub.verify(sig, msg, ec.ECDSA(HASHES[alg[-3:]]()))
    elif alg.startswith("rsassa-pss"):
        h = HASHES[alg[-3:]]()
        pub.verify(sig, msg, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h)
    else:
        pub.verify(sig, msg, padding.PKCS1v15(), HASHES[alg[3:6]]())


def openssl_verify_args(alg):
    if alg == "Ed25519":
        return None
    digest = "-sha" + (alg[-3:] if not alg.startswith("sha") else alg[3:6])
    args = [digest]
    if alg.startswith("rsassa-pss"):
        args += ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"]
    return args


class OurKeysInTheirTools(TmpDirTest):
    def test_exported_pkcs8_reads_in_openssl_and_python(self):
        for kind in KEY_TYPES:
            with self.subTest(kind=kind):
                key = self.path(f"{kind}.pem")
                keytool("gen", kind, "2048", key)
                pem = self.read(f"{kind}.pem")
                self.assertTrue(pem.startswith(b"-----BEGIN PRIVATE KEY-----\n"))
                ours = self.path(f"{kind}.spki")
                keytool("spki", key, ours)
                # openssl derives the same public key from our private key ...
                self.assertEqual(openssl_spki(key), self.read(f"{kind}.spki"))
                # ... and so does python3-cryptography.
                priv = serialization.load_pem_private_key(pem, None)
                der = priv.public_key().public_bytes(serialization.Encoding.DER,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo)
                self.assertEqual(der, self.read(f"{kind}.spki"))
                if kind == "rsa":
                    self.assertEqual(priv.key_size, 2048)
                openssl("pkey", "-in", key, "-check", "-noout")

    def test_encrypted_export_reads_in_openssl_and_python(self):
        for kind in KEY_TYPES:
            with self.subTest(kind=kind):
                key = self.path(f"{kind}.enc.pem")
                keytool("gen", kind, "2048", key, password=PASSWORD)
                pem = self.read(f"{kind}.enc.pem")
                self.assertTrue(pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n"))
                info = openssl("asn1parse", "-in", key).stdout.decode()
                for what in ("PBES2", "PBKDF2", "hmacWithSHA256", "aes-256-cbc"):
                    self.assertIn(what, info)
                spki = openssl_spki(key, password=PASSWORD)
                priv = serialization.load_pem_private_key(pem, PASSWORD.encode())
                self.assertEqual(priv.public_key().public_bytes(
                    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo), spki)
                bad = openssl("pkey", "-in", key, "-passin", "env:PKI_TEST_PW", "-noout",
                              password="wrong", check=False)
                self.assertNotEqual(bad.returncode, 0)

    def test_rsa_sizes(self):
        for bits in ("3072", "4096"):
            key = self.path(f"rsa{bits}.pem")
            keytool("gen", "rsa", bits, key)
            text = openssl("pkey", "-in", key, "-noout", "-text").stdout.decode()
            self.assertIn(f"({bits} bit", text)


class TheirKeysInOurImport(TmpDirTest):
    def check_import(self, path, expect_kind, reference_spki, password=None):
        out = self.path("imported.pem")
        p = keytool("import", path, out, password=password)
        self.assertEqual(p.stdout.decode().split()[0], expect_kind)
        ours = self.path("imported.spki")
        keytool("spki", out, ours)
        self.assertEqual(self.read("imported.spki"), reference_spki)

    def test_every_form_openssl_writes(self):
        for kind in KEY_TYPES:
            with self.subTest(kind=kind):
                src = self.path(f"{kind}.p8.pem")
                openssl_genkey(kind, src)
                spki = openssl_spki(src)
                self.check_import(src, kind, spki)  # PKCS#8 PEM
                der = self.path(f"{kind}.p8.der")
                openssl("pkey", "-in", src, "-outform", "DER", "-out", der)
                self.check_import(der, kind, spki)  # PKCS#8 DER
                if kind != "ed25519":
                    trad = self.path(f"{kind}.trad.pem")
                    openssl("pkey", "-in", src, "-traditional", "-out", trad)
                    label = b"RSA PRIVATE KEY" if kind == "rsa" else b"EC PRIVATE KEY"
                    self.assertIn(label, self.read(f"{kind}.trad.pem"))
                    self.check_import(trad, kind, spki)  # PKCS#1 / SEC1 PEM
                    tder = self.path(f"{kind}.trad.der")
                    if kind == "rsa":
                        openssl("rsa", "-in", src, "-traditional", "-outform", "DER", "-out", tder)
                    else:
                        openssl("ec", "-in", src, "-outform", "DER", "-out", tder)
                    parsed = openssl("asn1parse", "-inform", "DER", "-in", tder).stdout
                    self.assertNotIn(b"rsaEncryption", parsed)  # PKCS#1 / SEC1, not PKCS#8
                    self.assertNotIn(b"id-ecPublicKey", parsed)
                    self.check_import(tder, kind, spki)  # PKCS#1 / SEC1 DER
                for cipher in ("aes-256-cbc", "aes-128-cbc"):
                    enc = self.path(f"{kind}.{cipher}.pem")
                    openssl("pkcs8", "-topk8", "-v2", cipher, "-in", src, "-out", enc,
                            "-passout", "env:PKI_TEST_PW", password=PASSWORD)
                    self.check_import(enc, kind, spki, password=PASSWORD)
                    p = keytool("import", enc, self.path("x.pem"), password="not it", check=False)
                    self.assertEqual(p.returncode, 1)
                    self.assertEqual(p.stderr.decode().strip(), "encrypted key: wrong password")
                    p = keytool("import", enc, self.path("x.pem"), check=False)
                    self.assertEqual(p.stderr.decode().strip(), "encrypted key: password required")

    def test_sec1_after_ec_parameters_block(self):
        key = self.path("ecparam.pem")
        openssl("ecparam", "-name", "prime256v1", "-genkey", "-out", key)
        self.assertIn(b"EC PARAMETERS", self.read("ecparam.pem"))
        self.check_import(key, "ec-p256", openssl_spki(key))

    def test_python_made_keys(self):
        keys = {
            "rsa": rsa.generate_private_key(65537, 3072),
            "ec-p384": ec.generate_private_key(ec.SECP384R1()),
            "ed25519": ed25519.Ed25519PrivateKey.generate(),
        }
        for kind, k in keys.items():
            with self.subTest(kind=kind):
                pem = k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.BestAvailableEncryption(PASSWORD.encode()))
                spki = k.public_key().public_bytes(serialization.Encoding.DER,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
                self.check_import(self.write(f"{kind}.py.pem", pem), kind, spki, password=PASSWORD)

    def refused(self, path, message, password=None):
        p = keytool("import", path, self.path("never.pem"), password=password, check=False)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertEqual(p.stderr.decode().strip(), message)

    def test_refusals_name_the_problem(self):
        k1 = self.path("k1.pem")
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1", "-out", k1)
        self.refused(k1, "unsupported curve secp256k1")
        k2 = self.path("k2.pem")
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", k2)
        self.refused(k2, "RSA key of 1024 bits is too small (2048 to 4096 are supported)")
        k3 = self.path("k3.pem")
        openssl("genpkey", "-algorithm", "ED448", "-out", k3)
        self.refused(k3, "unsupported key algorithm Ed448")
        pub = self.path("pub.pem")
        openssl("pkey", "-in", k1, "-pubout", "-out", pub)
        self.refused(pub, "not a private key (PEM PUBLIC KEY)")
        pubder = self.write("pub.der", openssl_spki(k1))
        self.refused(pubder, "not a private key (this is a public key)")
        legacy = self.path("legacy.pem")
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", k2)
        openssl("rsa", "-in", k2, "-traditional", "-aes256", "-passout", "env:PKI_TEST_PW",
                "-out", legacy, password=PASSWORD)
        self.refused(legacy, "legacy PEM encryption (Proc-Type) is not supported; convert with: "
                             "openssl pkcs8 -topk8 -v2 aes-256-cbc", password=PASSWORD)
        scrypt = self.path("scrypt.pem")
        openssl("pkcs8", "-topk8", "-scrypt", "-in", k2, "-out", scrypt, "-passout",
                "env:PKI_TEST_PW", password=PASSWORD)
        self.refused(scrypt, "encrypted key: unsupported key derivation (PBKDF2 is supported, "
                             "scrypt is not)", password=PASSWORD)
        # A key whose embedded public key belongs to another key: refused at import.
        a, b = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        sec1 = bytearray(a.private_bytes(serialization.Encoding.DER,
                                         serialization.PrivateFormat.TraditionalOpenSSL,
                                         serialization.NoEncryption()))
        pub_a = a.public_key().public_bytes(serialization.Encoding.X962,
                                            serialization.PublicFormat.UncompressedPoint)
        pub_b = b.public_key().public_bytes(serialization.Encoding.X962,
                                            serialization.PublicFormat.UncompressedPoint)
        at = bytes(sec1).index(pub_a)
        sec1[at:at + len(pub_a)] = pub_b
        p = keytool("import", self.write("mismatch.der", bytes(sec1)), self.path("x.pem"), check=False)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr.decode().strip(), "ec-p256 private key is inconsistent (its "
                         "signature does not verify with its public key)")


class Signatures(TmpDirTest):
    def test_every_alg_verifies_in_openssl_and_python_and_back(self):
        msg = self.write("msg.bin", b"a to-be-signed structure, really" * 50)
        for kind in KEY_TYPES:
            key = self.path(f"{kind}.pem")
            keytool("gen", kind, "2048", key)
            pub_pem = self.path(f"{kind}.pub.pem")
            openssl("pkey", "-in", key, "-pubout", "-out", pub_pem)
            spki = self.path(f"{kind}.spki")
            keytool("spki", key, spki)
            pub = serialization.load_der_public_key(self.read(f"{kind}.spki"))
            for alg in ALGS[kind]:
                with self.subTest(kind=kind, alg=alg):
                    sig = self.path("sig.bin")
                    keytool("sign", key, alg, msg, sig)
                    py_verify(pub, alg, self.read("msg.bin"), self.read("sig.bin"))
                    extra = openssl_verify_args(alg)
                    if extra is None:
                        openssl("pkeyutl", "-verify", "-pubin", "-inkey", pub_pem, "-rawin",
                                "-in", msg, "-sigfile", sig)
                    else:
                        out = openssl("dgst", *extra, "-verify", pub_pem, "-signature", sig, msg)
                        self.assertIn(b"Verified OK", out.stdout)
                    # And the other way: openssl signs, our verifier accepts ...
                    theirs = self.path("theirs.bin")
                    if extra is None:
                        openssl("pkeyutl", "-sign", "-inkey", key, "-rawin", "-in", msg,
                                "-out", theirs)
                    else:
                        openssl("dgst", *extra, "-sign", key, "-out", theirs, msg)
                    keytool("verify", spki, alg, msg, theirs)
                    # ... and refuses it for a changed message.
                    other = self.write("other.bin", b"a different message")
                    self.assertEqual(keytool("verify", spki, alg, other, theirs, check=False).returncode, 1)

    def test_pss_algorithm_identifier_is_what_openssl_writes_for_pss(self):
        # A PSS-signed certificate from openssl carries RSASSA-PSS-params; ours must name the same
        # hash, MGF1 hash and salt length (openssl prints them from our bytes).
        for h, salt in (("256", "0x20"), ("384", "0x30"), ("512", "0x40")):
            der = self.path(f"pss{h}.der")
            keytool("algid", f"rsassa-pss-sha{h}", der)
            text = openssl("asn1parse", "-inform", "DER", "-in", der, "-i").stdout.decode()
            self.assertIn("rsassaPss", text)
            self.assertIn(f"sha{h}", text)
            self.assertIn("mgf1", text)
            self.assertIn(f":{salt[2:].upper()}", text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
