#!/usr/bin/python3
"""Parallel ACME load client for scripts/bench/acme.sh: P processes, each with its own account
(registered with one EAB credential allowing P uses) and one keep-alive HTTPS connection, run
newOrder -> finalize -> certificate download for pre-approved names until the deadline.
Prints the number of certificates received per second.

usage: acme_load.py DIRECTORY_URL KID HMAC SECONDS PROCESSES DOMAIN"""
import http.client
import json
import multiprocessing
import os
import ssl
import sys
import time
import urllib.parse

_src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path[:0] = [os.path.join(_src, "tests", "acme"), os.path.join(_src, "tests", "harness")]
os.environ.setdefault("PKI_SOURCE_DIR", _src)
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

import acmetest as A  # noqa: E402


class Conn:
    def __init__(self, base):
        u = urllib.parse.urlsplit(base)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=30)
        self.nonce = None

    def req(self, method, url, body=None):
        path = urllib.parse.urlsplit(url).path
        hdrs = {"Content-Type": "application/jose+json"} if body is not None else {}
        self.c.request(method, path, body=json.dumps(body) if body is not None else None,
                       headers=hdrs)
        r = self.c.getresponse()
        data = r.read()
        self.nonce = r.getheader("Replay-Nonce") or self.nonce
        return r.status, r.getheader("Location"), data


def worker(args):
    dir_url, kid, hmac_key, seconds, idx, domain, start_at = args
    conn = Conn(dir_url)
    _, _, d = conn.req("GET", dir_url)
    d = json.loads(d)
    conn.req("HEAD", d["newNonce"])
    key = A.Key("ES256")

    def post(url, payload, use_jwk=False):
        body = A.jws(key, url, payload, nonce=conn.nonce, kid=None if use_jwk else acct)
        return conn.req("POST", url, body)

    acct = None
    payload = {"termsOfServiceAgreed": True,
               "externalAccountBinding": A.eab_binding(kid, hmac_key, key.jwk(),
                                                       d["newAccount"])}
    st, acct, body = post(d["newAccount"], payload, use_jwk=True)
    if st != 201:
        raise SystemExit(f"register: {st} {body!r}")
    cert_key = ec.generate_private_key(ec.SECP256R1())
    while time.time() < start_at:
        time.sleep(0.01)
    deadline = start_at + seconds
    done = n = 0
    while time.time() < deadline:
        name = f"w{idx}-{n}.{domain}"
        n += 1
        st, order_url, body = post(d["newOrder"],
                                   {"identifiers": [{"type": "dns", "value": name}]})
        if st != 201:
            continue
        order = json.loads(body)
        csr = x509.CertificateSigningRequestBuilder().subject_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])).add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False).sign(
            cert_key, hashes.SHA256())
        der = csr.public_bytes(serialization.Encoding.DER)
        st, _, body = post(order["finalize"], {"csr": A.b64u(der)})
        if st != 200:
            continue
        order = json.loads(body)
        while order["status"] == "processing":
            time.sleep(0.05)
            order = json.loads(post(order_url, None)[2])
        if order.get("certificate"):
            st, _, pem = post(order["certificate"], None)
            if st == 200 and b"BEGIN CERTIFICATE" in pem:
                done += 1
    return done


def main():
    dir_url, kid, hmac_key, seconds, procs, domain = sys.argv[1:7]
    seconds, procs = float(seconds), int(procs)
    start_at = time.time() + 3 + procs * 0.3  # everyone registered before the clock starts
    with multiprocessing.Pool(procs) as pool:
        counts = pool.map(worker, [(dir_url, kid, hmac_key, seconds, i, domain, start_at)
                                   for i in range(procs)])
    print(f"{sum(counts) / seconds:.1f}")


if __name__ == "__main__":
    main()
