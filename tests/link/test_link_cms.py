"""The link's SignedData is standard CMS (RFC 5652) that an independent implementation checks:
openssl cms verifies a SignedData that lib/link sealed (the ECDSA signature is made through the
envelope's wolfCrypt crypto-callback device, docs/link.md Benchmark) against the sender's
certificate, finds exactly that one certificate in it and exactly the LinkMessage as its
content, with ecdsa-with-SHA256; one octet of the signature changed and openssl refuses it."""
import os
import subprocess
import tempfile
import unittest


def openssl(*args):
    return subprocess.run(["openssl", *args], capture_output=True, timeout=60)


class LinkCms(unittest.TestCase):
    def test_openssl_verifies_the_signed_data(self):
        work = tempfile.mkdtemp(prefix="link-cms-")
        tool = os.path.join(os.environ["PKI_BUILD_DIR"], "tests", "link", "link-cms-sample")
        subprocess.run([tool, work], check=True, timeout=60)
        p = lambda name: os.path.join(work, name)  # noqa: E731
        r = openssl("x509", "-inform", "DER", "-in", p("signer.der"), "-out", p("signer.pem"))
        self.assertEqual(r.returncode, 0, r.stderr)

        r = openssl("cms", "-verify", "-inform", "DER", "-in", p("signed.der"), "-binary",
                    "-CAfile", p("signer.pem"), "-purpose", "any", "-out", p("content.der"),
                    "-certsout", p("certs.pem"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"Verification successful", r.stderr)
        with open(p("content.der"), "rb") as a, open(p("message.der"), "rb") as b:
            self.assertEqual(a.read(), b.read())
        with open(p("certs.pem")) as a, open(p("signer.pem")) as b:
            self.assertEqual(a.read().strip(), b.read().strip())
        r = openssl("cms", "-cmsout", "-print", "-inform", "DER", "-in", p("signed.der"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"ecdsa-with-SHA256", r.stdout)

        # The signature is the last element of the SignedData: change its last octet.
        with open(p("signed.der"), "rb") as f:
            der = bytearray(f.read())
        der[-1] ^= 0x01
        with open(p("bad.der"), "wb") as f:
            f.write(der)
        r = openssl("cms", "-verify", "-inform", "DER", "-in", p("bad.der"), "-binary",
                    "-CAfile", p("signer.pem"), "-purpose", "any", "-out", os.devnull)
        self.assertNotEqual(r.returncode, 0)
        self.assertNotIn(b"Verification successful", r.stderr)
        for name in os.listdir(work):
            os.unlink(p(name))
        os.rmdir(work)


if __name__ == "__main__":
    unittest.main()
