"""Crash safety: kill -9 during a burst of issuance, restart: no duplicate serials, no
certificate without its row, no row without its certificate, no issued request without its
certificate, and every certificate a client was given is still there."""
import os
import signal
import sqlite3
import threading
import time
import unittest

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pkitest import http
from relaytest import add_user, logged_in, new_state_dir, relay

PW = "correct horse battery"


def csr_pem(i):
    key = ec.generate_private_key(ec.SECP256R1())
    name = f"host{i}.example.com"
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
           .sign(key, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.PEM).decode()


class CrashSafety(unittest.TestCase):
    def test_kill_9_during_issuance_burst(self):
        state = new_state_dir(self)
        d = relay(state_dir=state)
        add_user(d, "alice", PW)
        d.start()
        c = logged_in(d, "alice", PW)
        token = c.post("/api/v1/tokens", {"name": "burst"}).json()["token"]
        ca = c.post("/api/v1/cas", {"name": "Burst", "key_type": "ec-p256",
                                    "subject": "/CN=Burst CA"}).json()
        tpl = c.get(f"/api/v1/cas/{ca['id']}/templates").json()["templates"][0]["id"]
        csrs = [csr_pem(i) for i in range(400)]
        auth = {"Authorization": f"Bearer {token}"}
        issued = []  # (certificate id, serial) acknowledged to a client
        lock = threading.Lock()
        stop = threading.Event()

        def worker(offset):
            i = offset
            while not stop.is_set() and i < len(csrs):
                try:
                    r = http("POST", f"{d.url}/api/v1/templates/{tpl}/requests",
                             body={"csr": csrs[i]}, headers=auth, timeout=10)
                    if r.status != 201:
                        break
                    r = http("POST", f"{d.url}/api/v1/requests/{r.json()['id']}/approve",
                             body={}, headers=auth, timeout=10)
                    if r.status == 200:
                        cert = r.json()["certificate"]
                        with lock:
                            issued.append((cert["id"], cert["serial"]))
                except OSError:
                    break  # the daemon is gone
                i += 8

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(issued) < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(d.proc.pid, signal.SIGKILL)  # in the middle of the burst
        d.proc.wait()
        stop.set()
        for t in threads:
            t.join()
        d.log.close()
        self.assertGreaterEqual(len(issued), 40, d.output())

        # Restart on the same state: the database opens (WAL recovery) and serves.
        d2 = relay(state_dir=state)
        with d2:
            db = sqlite3.connect(f"file:{state}/relay.db?mode=ro", uri=True)
            self.assertEqual(db.execute("PRAGMA integrity_check").fetchone()[0], "ok")
            rows = db.execute("SELECT id, serial, subject, der, request_id FROM certificates "
                              "WHERE ca_id=? AND kind='leaf'", (ca["id"],)).fetchall()
            serials = [r[1] for r in rows]
            self.assertEqual(len(serials), len(set(serials)), "duplicate serials")
            for cid, serial, subject, der, rid in rows:
                cert = x509.load_der_x509_certificate(der)  # every row has its certificate
                self.assertEqual(format(cert.serial_number, "x"), serial.lstrip("0"))
                self.assertEqual(cert.subject.rfc4514_string(), subject)
                status, cert_id = db.execute(
                    "SELECT status, certificate_id FROM requests WHERE id=?", (rid,)).fetchone()
                self.assertEqual((status, cert_id), ("issued", cid))
            # No request marked issued without its certificate.
            orphans = db.execute("SELECT count(*) FROM requests r WHERE r.status='issued' AND "
                                 "NOT EXISTS(SELECT 1 FROM certificates c WHERE "
                                 "c.id=r.certificate_id)").fetchone()[0]
            self.assertEqual(orphans, 0)
            # Everything a client was told about survived the crash.
            have = {(r[0], r[1]) for r in rows}
            self.assertTrue(set(issued) <= have, set(issued) - have)
            # And the relay keeps issuing after the restart.
            c2 = logged_in(d2, "alice", PW)
            rid = c2.post(f"/api/v1/templates/{tpl}/requests", {"csr": csr_pem(999)}).json()["id"]
            self.assertEqual(c2.post(f"/api/v1/requests/{rid}/approve", {}).status, 200)
            db.close()


if __name__ == "__main__":
    unittest.main()
