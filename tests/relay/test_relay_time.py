"""Time-driven behaviour with the injectable clock (PKI_FAKE_NOW, state kept across restarts):
the CRL is remade before its nextUpdate without any revocation, OCSP answers carry a
nextUpdate in the future, expired certificates are purged 30 days after expiry and audit
entries after 30 days (P-5)."""
import calendar
import sqlite3
import time
import unittest

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from pkitest import http
from relaytest import add_user, logged_in, make_csr, new_state_dir, relay

PW = "correct horse battery"
T0 = 1_900_000_000
DAY = 86400


def ts(dt):
    return calendar.timegm(dt.utctimetuple())


class Clock(unittest.TestCase):
    def crl_url(self, d, ca):
        return f"{d.url}/pki/ca/{ca['id']}/crl"

    def at(self, t, state):
        return relay(env={"PKI_FAKE_NOW": str(t)}, state_dir=state)

    def test_crl_refresh_and_retention(self):
        state = new_state_dir(self)
        d = self.at(T0, state)
        add_user(d, "alice", PW)
        with d:
            c = logged_in(d, "alice", PW)
            ca = c.post("/api/v1/cas", {"name": "Clock", "key_type": "ec-p256",
                                        "subject": "/CN=Clock CA"}).json()
            tpl = c.get(f"/api/v1/cas/{ca['id']}/templates").json()["templates"][0]["id"]
            _, csr = make_csr(d.dir, "short", "/CN=short.example.com", ("DNS:short.example.com",))
            rid = c.post(f"/api/v1/templates/{tpl}/requests", {"csr": csr}).json()["id"]
            cert = c.post(f"/api/v1/requests/{rid}/approve", {"validity_days": 2}).json()
            cert_id = cert["certificate"]["id"]
            crl1 = x509.load_der_x509_crl(http("GET", self.crl_url(d, ca)).body)
            # Served from the cache: the same CRL again.
            self.assertEqual(http("GET", self.crl_url(d, ca)).body,
                             crl1.public_bytes(Encoding.DER))
        n1 = crl1.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
        self.assertEqual(ts(crl1.next_update) - ts(crl1.last_update), 7 * DAY)
        # A day and a bit later (crl_refresh 24 h): a new CRL although nothing was revoked.
        d = self.at(T0 + DAY + 60, state)
        with d:
            crl2 = x509.load_der_x509_crl(http("GET", self.crl_url(d, ca)).body)
            self.assertGreater(crl2.extensions.get_extension_for_class(x509.CRLNumber)
                               .value.crl_number, n1)
            self.assertEqual(ts(crl2.last_update), T0 + DAY + 60)
            c = logged_in(d, "alice", PW)
            self.assertEqual(c.get(f"/api/v1/certificates/{cert_id}").status, 200)
        # 33 days later: the 2-day certificate expired 31 days ago and is purged; the audit
        # entries of day 0 are gone, the login of day 1 (32 days ago) too, today's stay.
        d = self.at(T0 + 33 * DAY, state)
        with d:
            c = logged_in(d, "alice", PW)
            for _ in range(100):  # housekeeping runs on the first tick, on a worker
                if c.get(f"/api/v1/certificates/{cert_id}").status == 404:
                    break
                time.sleep(0.1)
            self.assertEqual(c.get(f"/api/v1/certificates/{cert_id}").status, 404)
            db = sqlite3.connect(f"file:{state}/relay.db?mode=ro", uri=True)
            oldest = db.execute("SELECT min(time) FROM audit").fetchone()[0]
            self.assertGreaterEqual(oldest, T0 + 3 * DAY)
            # The OCSP responder certificate and the CA itself are not purged.
            self.assertEqual(c.get(f"/api/v1/cas/{ca['id']}").status, 200)
            db.close()


if __name__ == "__main__":
    unittest.main()
