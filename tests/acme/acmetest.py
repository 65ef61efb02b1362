"""Helpers for the ACME tests: a pki-relay with an HTTPS certificate clients can trust, a CA,
an ACME policy and EAB credentials made through the REST API, a local DNS server (dnslib), and
a small ACME client on python3-cryptography for the refusal tests."""
import base64
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.environ.get("PKI_SOURCE_DIR", ""), "tests", "relay"))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

import relaytest  # noqa: E402
from pkitest import Daemon, http  # noqa: E402

ADMIN, PASSWORD = "admin", "correct horse battery staple"


def b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_dec(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Cleanups:
    """addCleanup for class-level fixtures."""

    def __init__(self):
        self.fns = []

    def addCleanup(self, fn, *a):
        self.fns.append((fn, a))

    def run(self):
        for fn, a in reversed(self.fns):
            fn(*a)


def make_tls_cert(directory):
    """A self-signed certificate for 127.0.0.1/localhost (the relay's HTTPS), PEM paths."""
    cert = os.path.join(directory, "tls.crt")
    key = os.path.join(directory, "tls.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


class DnsServer:
    """Answers A 127.0.0.1 for every name and TXT records set by tests (and hook scripts through
    a JSON file), on a free UDP port of 127.0.0.1."""

    def __init__(self, directory):
        from dnslib import RR, QTYPE, A, TXT
        from dnslib.server import BaseResolver, DNSServer

        self.txt_file = os.path.join(directory, "txt.json")
        with open(self.txt_file, "w") as f:
            json.dump({}, f)
        outer = self

        class Resolver(BaseResolver):
            def resolve(self, request, handler):
                reply = request.reply()
                qname = str(request.q.qname).rstrip(".").lower()
                if request.q.qtype == QTYPE.A:
                    reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A("127.0.0.1"), ttl=1))
                elif request.q.qtype == QTYPE.TXT:
                    for value in outer.records().get(qname, []):
                        reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(value), ttl=1))
                return reply

        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.server = DNSServer(Resolver(), port=self.port, address="127.0.0.1")
        self.server.start_thread()

    def records(self):
        with open(self.txt_file) as f:
            return json.load(f)

    def set_txt(self, name, values):
        recs = self.records()
        recs[name.lower()] = values
        with open(self.txt_file, "w") as f:
            json.dump(recs, f)

    def stop(self):
        self.server.stop()


class AcmeRelay:
    """pki-relay with ACME set up: admin, a P-256 root CA, its Web Server template, a policy."""

    def __init__(self, tc, extra="", env=None, acme_extra=""):
        """extra: more configuration; acme_extra: more settings inside the acme block."""
        self.dir = tempfile.mkdtemp(prefix="acme-test-")
        self.cert, self.key = make_tls_cert(self.dir)
        self.dns = DnsServer(self.dir)
        tc.addCleanup(self.dns.stop)
        from pkitest import free_port
        self.http01_port = free_port()
        config = (
            'http = {{ listen = "127.0.0.1"; port = {port}; tls_cert = "CERT"; tls_key = "KEY";'
            ' public_url = "https://127.0.0.1:{port}"; }};\n'
            'acme = {{ resolver = "127.0.0.1:DNSPORT"; http01_port = HPORT;'
            ' validation_timeout = 5; ACME_EXTRA }};\n'
        ).replace("CERT", self.cert).replace("KEY", self.key).replace(
            "DNSPORT", str(self.dns.port)).replace("HPORT", str(self.http01_port)).replace(
            "ACME_EXTRA", acme_extra.replace("{", "{{").replace("}", "}}"))
        base = relaytest.BASE_CONFIG.replace(
            'http = {{ listen = "127.0.0.1"; port = {port}; }};\n', "")
        self.d = Daemon("pki-relay", base + config + extra, env=env, scheme="https")
        self.d.start()
        tc.addCleanup(self.close)
        # The CLI runs beside the running daemon on the same database: test_eab_expired (a
        # second relay reading this one's writes) fails if that ever loses the daemon's WAL.
        relaytest.add_user(self.d, ADMIN, PASSWORD, admin=True)
        self.api = relaytest.logged_in(self.d, ADMIN, PASSWORD)
        r = self.api.post("/api/v1/cas", {"name": "ACME CA", "type": "root", "key_type": "ec-p256",
                                          "subject": "/CN=ACME Test Root/O=pki-relay tests"})
        assert r.status == 201, (r.status, r.body)
        self.ca = r.json()
        r = self.api.get(f"/api/v1/cas/{self.ca['id']}/templates")
        assert r.status == 200, r.body
        self.template_id = [t for t in r.json()["templates"] if t["name"] == "Web Server"][0]["id"]
        self.directory = f"{self.d.url}/acme/directory"
        self.ca_pem = os.path.join(self.dir, "ca.pem")
        r = http("GET", f"{self.d.url}/pki/ca/{self.ca['id']}/cert.pem")
        with open(self.ca_pem, "wb") as f:
            f.write(r.body)

    def close(self):
        self.d.__exit__(None, None, None)

    def policy(self, name="default", allowed=(), preapproved=()):
        r = self.api.post("/api/v1/acme/policies", {
            "name": name, "template_id": self.template_id, "allowed_domains": list(allowed),
            "preapproved_domains": list(preapproved)})
        assert r.status == 201, (r.status, r.body)
        return r.json()["id"]

    def eab(self, policy_id, max_uses=1, expires=None, name="test"):
        body = {"name": name, "policy_id": policy_id, "max_uses": max_uses}
        if expires:
            body["expires"] = expires
        r = self.api.post("/api/v1/acme/eab", body)
        assert r.status == 201, (r.status, r.body)
        j = r.json()
        return j["key_id"], j["hmac_key"]


# ---- a minimal ACME client for protocol tests ----

class Key:
    def __init__(self, kind="ES256"):
        self.alg = kind
        if kind == "ES256":
            self.k = ec.generate_private_key(ec.SECP256R1())
        elif kind == "ES384":
            self.k = ec.generate_private_key(ec.SECP384R1())
        elif kind == "RS256":
            self.k = rsa.generate_private_key(65537, 2048)
        elif kind == "EdDSA":
            self.k = ed25519.Ed25519PrivateKey.generate()
        else:
            raise ValueError(kind)

    def jwk(self):
        pub = self.k.public_key()
        if self.alg in ("ES256", "ES384"):
            n = 32 if self.alg == "ES256" else 48
            nums = pub.public_numbers()
            return {"kty": "EC", "crv": "P-256" if n == 32 else "P-384",
                    "x": b64u(nums.x.to_bytes(n, "big")), "y": b64u(nums.y.to_bytes(n, "big"))}
        if self.alg == "RS256":
            nums = pub.public_numbers()
            return {"kty": "RSA", "n": b64u(nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big")),
                    "e": b64u(nums.e.to_bytes((nums.e.bit_length() + 7) // 8, "big"))}
        raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64u(raw)}

    def thumbprint(self):
        j = self.jwk()
        members = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"),
                   "OKP": ("crv", "kty", "x")}[j["kty"]]
        canon = json.dumps({m: j[m] for m in members}, sort_keys=True, separators=(",", ":"))
        return b64u(hashlib.sha256(canon.encode()).digest())

    def sign(self, data):
        if self.alg in ("ES256", "ES384"):
            h = hashes.SHA256() if self.alg == "ES256" else hashes.SHA384()
            r, s = decode_dss_signature(self.k.sign(data, ec.ECDSA(h)))
            n = 32 if self.alg == "ES256" else 48
            return r.to_bytes(n, "big") + s.to_bytes(n, "big")
        if self.alg == "RS256":
            return self.k.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return self.k.sign(data)


def jws(key, url, payload, nonce=None, kid=None, alg=None, extra=None):
    hdr = {"alg": alg or key.alg, "url": url}
    if nonce is not None:
        hdr["nonce"] = nonce
    if kid:
        hdr["kid"] = kid
    else:
        hdr["jwk"] = key.jwk()
    hdr.update(extra or {})
    p = b64u(json.dumps(hdr))
    y = "" if payload is None else b64u(json.dumps(payload) if not isinstance(payload, str)
                                        else payload)
    sig = key.sign(f"{p}.{y}".encode())
    return {"protected": p, "payload": y, "signature": b64u(sig)}


def eab_binding(kid, hmac_b64, jwk, url, alg="HS256"):
    p = b64u(json.dumps({"alg": alg, "kid": kid, "url": url}))
    y = b64u(json.dumps(jwk))
    mac = hmac.new(b64u_dec(hmac_b64), f"{p}.{y}".encode(), hashlib.sha256).digest()
    return {"protected": p, "payload": y, "signature": b64u(mac)}


class Client:
    def __init__(self, directory_url, key=None):
        self.dir_url = directory_url
        self.key = key or Key()
        r = http("GET", directory_url)
        assert r.status == 200, r.body
        self.dir = r.json()
        self.kid = None

    def nonce(self):
        r = http("HEAD", self.dir["newNonce"])
        assert r.status == 200, r.status
        return r.headers["Replay-Nonce"]

    def raw(self, url, body, content_type="application/jose+json"):
        return http("POST", url, body=json.dumps(body),
                    headers={"Content-Type": content_type})

    def post(self, url, payload, key=None, use_jwk=False, nonce=None, sign_url=None):
        key = key or self.key
        body = jws(key, sign_url or url, payload, nonce=nonce or self.nonce(),
                   kid=None if use_jwk or not self.kid else self.kid)
        return self.raw(url, body)

    def register(self, eab=None, contact=("mailto:test@example.com",), only_existing=False):
        url = self.dir["newAccount"]
        payload = {"termsOfServiceAgreed": True, "contact": list(contact)}
        if only_existing:
            payload = {"onlyReturnExisting": True}
        if eab:
            payload["externalAccountBinding"] = eab_binding(eab[0], eab[1], self.key.jwk(), url)
        r = self.post(url, payload, use_jwk=True)
        if r.status in (200, 201):
            self.kid = r.headers["Location"]
        return r

    def new_order(self, names):
        return self.post(self.dir["newOrder"],
                         {"identifiers": [{"type": "dns", "value": n} for n in names]})

    def get(self, url):
        return self.post(url, None)

    def wait(self, url, statuses=("valid", "invalid", "ready"), timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            r = self.get(url)
            assert r.status == 200, r.body
            if r.json()["status"] in statuses or time.monotonic() > deadline:
                return r.json()
            time.sleep(0.2)


def load_chain(pem):
    """Certificates of a PEM chain, leaf first."""
    out, text = [], pem.decode() if isinstance(pem, bytes) else pem
    end = "-----END CERTIFICATE-----"
    for block in text.split(end)[:-1]:
        out.append(x509.load_pem_x509_certificate((block.strip() + "\n" + end + "\n").encode()))
    return out


def csr_der(names, key=None):
    key = key or ec.generate_private_key(ec.SECP256R1())
    b = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
    b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                        critical=False)
    return b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER), key


def problem(tc, r, status, ptype):
    tc.assertEqual(r.status, status, r.body)
    tc.assertEqual(r.headers.get("Content-Type"), "application/problem+json", r.headers)
    j = r.json()
    tc.assertEqual(j["type"], "urn:ietf:params:acme:error:" + ptype, j)
    tc.assertTrue(j["detail"])
    tc.assertTrue(r.headers.get("Replay-Nonce"), "problem documents carry a fresh nonce")
    return j


def serve_http01(port, responses):
    """A tiny HTTP server on 127.0.0.1:port answering /.well-known/acme-challenge/<token> from
    the dict responses (token -> body). Returns a stop function."""
    import http.server

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            token = self.path.rsplit("/", 1)[-1]
            body = responses.get(token)
            if body is None:
                self.send_response(404)
                self.end_headers()
                return
            if body == "HANG":
                time.sleep(30)
                return
            if body.startswith("REDIRECT:"):
                self.send_response(302)
                self.send_header("Location", body[len("REDIRECT:"):])
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()

    def stop():
        srv.shutdown()
        srv.server_close()
    return stop


def wait_port(port, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")
