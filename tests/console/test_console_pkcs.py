"""The console's in-browser CSR and PKCS#12 code (webui/console/js/pkcs/) against independent
parsers: openssl (in pkcs.mjs) and python3-cryptography (here): the PKCS#12 opens with the
password, holds the key of the certificate, the chain, PBES2/AES-256-CBC and an HMAC-SHA256 MAC."""
import os
import subprocess
import tempfile

from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography import x509

import browser
from pkitest import Daemon

CONFIG = """
state_dir = "{state_dir}"
http = {{ listen = "127.0.0.1"; port = {port}; }};
"""


def main():
    out = tempfile.mkdtemp(prefix="console-pkcs-")
    with Daemon("pki-relay", CONFIG, scheme="https") as relay:
        browser.run_node(os.path.join(os.path.dirname(__file__), "pkcs.mjs"),
                         env={"RELAY_URL": relay.url, "OUT_DIR": out})
    data = open(os.path.join(out, "browser.p12"), "rb").read()
    password = open(os.path.join(out, "password.txt"), "rb").read()
    key, cert, extra = pkcs12.load_key_and_certificates(data, password)
    assert key.key_size == 2048
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "device-1.example.com"
    assert [c.subject.rfc4514_string() for c in extra] == ["CN=Test Root"]
    try:
        pkcs12.load_key_and_certificates(data, b"wrong")
        raise AssertionError("a wrong password opened the PKCS#12")
    except ValueError:
        pass
    # the algorithms are the modern ones (no RC2/3DES/SHA-1 MAC)
    info = subprocess.run(["openssl", "pkcs12", "-info", "-in", os.path.join(out, "browser.p12"), "-noout",
                           "-passin", "file:" + os.path.join(out, "password.txt")],
                          capture_output=True, text=True, check=True).stderr
    assert "MAC: sha256" in info, info
    assert "PBES2, PBKDF2, AES-256-CBC" in info, info
    assert "PKCS7 Data" in info, info
    print("browser PKCS#10 and PKCS#12: OK")


if __name__ == "__main__":
    main()
