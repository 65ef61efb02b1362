"""Shared helpers for the keys/signer/parser integration tests: the pki-keytool front end to our
library, and openssl run with passwords in the environment (never in argv)."""
import json
import os
import subprocess
import tempfile
import unittest

BUILD_DIR = os.environ.get("PKI_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
KEYTOOL = os.path.join(BUILD_DIR, "tests", "pki-keys", "pki-keytool")

KEY_TYPES = ["rsa", "ec-p256", "ec-p384", "ec-p521", "ed25519"]
ALGS = {
    "rsa": ["sha256WithRSAEncryption", "sha384WithRSAEncryption", "sha512WithRSAEncryption",
            "rsassa-pss-sha256", "rsassa-pss-sha384", "rsassa-pss-sha512"],
    "ec-p256": ["ecdsa-with-SHA256", "ecdsa-with-SHA384", "ecdsa-with-SHA512"],
    "ec-p384": ["ecdsa-with-SHA256", "ecdsa-with-SHA384", "ecdsa-with-SHA512"],
    "ec-p521": ["ecdsa-with-SHA256", "ecdsa-with-SHA384", "ecdsa-with-SHA512"],
    "ed25519": ["Ed25519"],
}
CURVES = {"ec-p256": "P-256", "ec-p384": "P-384", "ec-p521": "P-521"}


def run(cmd, check=True, env_extra=None, input=None):
    env = dict(os.environ)
    env.pop("PKI_KEY_PASSWORD", None)
    if env_extra:
        env.update(env_extra)
    p = subprocess.run(cmd, capture_output=True, env=env, input=input, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd} failed ({p.returncode}): {p.stderr.decode(errors='replace')}")
    return p


def keytool(*args, password=None, check=True):
    return run([KEYTOOL, *args], check=check,
               env_extra={"PKI_KEY_PASSWORD": password} if password is not None else None)


def keytool_json(*args):
    return json.loads(keytool(*args).stdout)


def openssl(*args, password=None, check=True, input=None):
    """openssl with any password passed as env:PKI_TEST_PW (the caller writes the option)."""
    return run(["openssl", *args], check=check, input=input,
               env_extra={"PKI_TEST_PW": password} if password is not None else None)


def openssl_genkey(kind, path):
    if kind == "rsa":
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path)
    elif kind == "ed25519":
        openssl("genpkey", "-algorithm", "ED25519", "-out", path)
    else:
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", f"ec_paramgen_curve:{CURVES[kind]}",
                "-out", path)


def openssl_spki(key_path, password=None):
    args = ["pkey", "-in", key_path, "-pubout", "-outform", "DER"]
    if password is not None:
        args += ["-passin", "env:PKI_TEST_PW"]
    return openssl(*args, password=password).stdout


class TmpDirTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="pki-keys-")
        self.dir = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, data):
        p = self.path(name)
        with open(p, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        return p

    def read(self, name):
        with open(self.path(name), "rb") as f:
            return f.read()
