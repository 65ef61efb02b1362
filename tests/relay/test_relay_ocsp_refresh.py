"""OCSP answers are pre-signed, cached, and refreshed before they go stale (R-4): with the relay's
clock moved forward while it runs (PKI_FAKE_NOW=@file), a cached answer's thisUpdate and
nextUpdate advance once half its validity has passed, without any revocation; a revocation is
reflected at once; and no answer is ever served past its nextUpdate. Answers are checked with
`openssl ocsp` (signature, status, times) and parsed with python3-cryptography."""
import calendar
import os
import tempfile
import time
import unittest

from cryptography import x509
from cryptography.x509 import ocsp

from pkitest import free_port, http
from relaytest import add_user, logged_in, make_csr, openssl, relay, write

PW = "correct horse battery"
HOUR = 3600


class OcspRefresh(unittest.TestCase):
    def set_clock(self, t):
        # Atomic replace: the relay reads the file at every pki_now().
        tmp = self.clock + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(t))
        os.replace(tmp, self.clock)

    def post(self, req_der):
        r = http("POST", self.url, body=req_der,
                 headers={"Content-Type": "application/ocsp-request"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["Content-Type"], "application/ocsp-response")
        return r.body

    def check_openssl(self, resp_der, now, status):
        """openssl ocsp verifies the signature and reports the status; times are checked
        against the relay's clock (-attime for the chain; the answer must be current then)."""
        path = write(self.work, "resp.der", resp_der)
        r = openssl("ocsp", "-respin", path, "-issuer", self.ca_pem, "-cert", self.leaf_pem,
                    "-CAfile", self.ca_pem, "-attime", str(now), "-resp_text", "-no_nonce",
                    # openssl compares thisUpdate with the real clock: allow the moved one.
                    "-validity_period", str(48 * HOUR), check=False)
        out = r.stdout + r.stderr
        self.assertIn("Response verify OK", out)
        self.assertIn(f": {status}", r.stdout)
        return r.stdout

    def times(self, resp_der):
        resp = ocsp.load_der_ocsp_response(resp_der)
        self.assertEqual(resp.response_status, ocsp.OCSPResponseStatus.SUCCESSFUL)
        return (calendar.timegm(resp.this_update.utctimetuple()),
                calendar.timegm(resp.next_update.utctimetuple()), resp.certificate_status)

    def wait_refreshed(self, req, older_than):
        """Asks until the answer is one signed after older_than (the refresh runs in the
        background: the first asker past the refresh time still gets the cached one)."""
        deadline = time.monotonic() + 60
        while True:
            body = self.post(req)
            if self.times(body)[0] > older_than:
                return body
            self.assertLess(time.monotonic(), deadline, "the OCSP answer was never refreshed")
            time.sleep(0.05)

    def test_refresh_and_revocation(self):
        self.work = tempfile.mkdtemp(prefix="relay-ocsp-refresh-")
        self.clock = os.path.join(self.work, "clock")
        # Start at the real time (certificates valid for openssl), then move forward.
        t0 = int(time.time())
        self.set_clock(t0)
        pport = free_port()
        d = relay('public_http = {{ listen = "127.0.0.1"; port = %d; }};\n'
                  'ocsp = {{ validity_hours = 4; }};\n' % pport,
                  env={"PKI_FAKE_NOW": "@" + self.clock})
        add_user(d, "alice", PW)
        with d:
            c = logged_in(d, "alice", PW)
            ca = c.post("/api/v1/cas", {"name": "Refresh", "key_type": "ec-p256",
                                        "subject": "/CN=Refresh CA"}).json()
            tpl = c.get(f"/api/v1/cas/{ca['id']}/templates").json()["templates"][0]["id"]
            _, csr = make_csr(self.work, "leaf", "/CN=leaf.example.com",
                              ("DNS:leaf.example.com",))
            rid = c.post(f"/api/v1/templates/{tpl}/requests", {"csr": csr}).json()["id"]
            cert = c.post(f"/api/v1/requests/{rid}/approve", {}).json()["certificate"]
            self.ca_pem = write(self.work, "ca.pem",
                                c.get(f"/api/v1/cas/{ca['id']}/certificate").body.decode())
            self.leaf_pem = write(self.work, "leaf.pem", cert["pem"])
            self.url = f"http://127.0.0.1:{pport}/pki/ca/{ca['id']}/ocsp"
            req_path = os.path.join(self.work, "req.der")
            openssl("ocsp", "-issuer", self.ca_pem, "-cert", self.leaf_pem, "-no_nonce",
                    "-reqout", req_path)
            req = open(req_path, "rb").read()

            # First answer: signed now, valid 4 h; asked again, the very same bytes (cached).
            a1 = self.post(req)
            this1, next1, status = self.times(a1)
            self.assertEqual(status, ocsp.OCSPCertStatus.GOOD)
            self.assertEqual(this1, t0)
            self.assertEqual(next1, t0 + 4 * HOUR)
            self.check_openssl(a1, t0, "good")
            self.set_clock(t0 + 1 * HOUR)
            self.assertEqual(self.post(req), a1)

            # Past half its validity (2 h), nothing revoked: re-signed, both times advance.
            t1 = t0 + 2 * HOUR + 60
            self.set_clock(t1)
            a2 = self.wait_refreshed(req, this1)
            this2, next2, status = self.times(a2)
            self.assertEqual(status, ocsp.OCSPCertStatus.GOOD)
            self.assertEqual(this2, t1)
            self.assertEqual(next2, t1 + 4 * HOUR)
            self.assertGreater(next2, next1)
            self.check_openssl(a2, t1, "good")
            self.assertEqual(self.post(req), a2)  # and that one is cached in turn

            # A revocation is seen at once, although a good answer is cached. (Two hours on,
            # the session has expired: log in again.)
            c = logged_in(d, "alice", PW)
            r = c.post(f"/api/v1/certificates/{cert['id']}/revoke", {"reason": "keyCompromise"})
            self.assertEqual(r.status, 200, r.body)
            a3 = self.post(req)
            self.assertEqual(self.times(a3)[2], ocsp.OCSPCertStatus.REVOKED)
            out = self.check_openssl(a3, t1, "revoked")
            self.assertIn("Reason: keyCompromise", out)

            # Never stale: far past nextUpdate (a relay that slept), the first answer is a new
            # one, not the expired cached one.
            t2 = t1 + 10 * HOUR
            self.set_clock(t2)
            a4 = self.post(req)
            this4, next4, status = self.times(a4)
            self.assertEqual(status, ocsp.OCSPCertStatus.REVOKED)
            self.assertEqual(this4, t2)
            self.assertEqual(next4, t2 + 4 * HOUR)
            self.check_openssl(a4, t2, "revoked")


if __name__ == "__main__":
    unittest.main()
