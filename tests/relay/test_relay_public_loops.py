"""The public plain-HTTP listener (CRL, OCSP, AIA) runs on several event loops of its own, all
listening on one port (public_http.threads; relay/public/public_loops.h): the port has one
listening socket per loop, many clients at once on kept-alive connections all get correct
answers (OCSP checked with python3-cryptography against the CA), the API stays off that port,
the relay stops cleanly with connections open, and bad settings or a taken port stop the start
with a clear message."""
import os
import socket
import subprocess
import tempfile
import threading
import unittest
import http.client

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import ocsp

from pkitest import free_port, program
from relaytest import add_user, logged_in, make_csr, openssl, relay, write

PW = "correct horse battery"
LOOPS = 3
CLIENTS = 24
ASKS = 20


def listening_sockets(port):
    out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True,
                         check=True).stdout
    return [line for line in out.splitlines() if line.strip()]


def start_fails(tc, extra, expect):
    """The relay with this configuration exits 1 at start, saying expect."""
    work = tempfile.mkdtemp(prefix="relay-loops-")
    state = os.path.join(work, "state")
    os.mkdir(state, 0o700)
    conf = os.path.join(work, "relay.conf")
    with open(conf, "w") as f:
        f.write('state_dir = "%s";\nhttp = { listen = "127.0.0.1"; port = %d; };\n%s'
                % (state, free_port(), extra))
    r = subprocess.run([program("pki-relay"), "--config", conf], capture_output=True, text=True,
                       timeout=60)
    tc.assertEqual(r.returncode, 1, r.stderr)
    tc.assertIn(expect, r.stderr)


class PublicLoops(unittest.TestCase):
    def test_loops_share_the_port(self):
        work = tempfile.mkdtemp(prefix="relay-loops-")
        pport = free_port()
        d = relay('public_http = {{ listen = "127.0.0.1"; port = %d; threads = %d; }};\n'
                  % (pport, LOOPS))
        add_user(d, "alice", PW)
        with d:
            self.assertIn(f"public HTTP listener on {LOOPS} loops", d.output())
            self.assertEqual(len(listening_sockets(pport)), LOOPS, listening_sockets(pport))
            c = logged_in(d, "alice", PW)
            ca = c.post("/api/v1/cas", {"name": "Loops", "key_type": "ec-p256",
                                        "subject": "/CN=Loops CA"}).json()
            tpl = c.get(f"/api/v1/cas/{ca['id']}/templates").json()["templates"][0]["id"]
            _, csr = make_csr(work, "leaf", "/CN=leaf.example.com", ("DNS:leaf.example.com",))
            rid = c.post(f"/api/v1/templates/{tpl}/requests", {"csr": csr}).json()["id"]
            cert = c.post(f"/api/v1/requests/{rid}/approve", {}).json()["certificate"]
            ca_der = c.get(f"/api/v1/cas/{ca['id']}/certificate").body
            ca_pem = write(work, "ca.pem", ca_der.decode())
            leaf_pem = write(work, "leaf.pem", cert["pem"])
            req_path = os.path.join(work, "req.der")
            openssl("ocsp", "-issuer", ca_pem, "-cert", leaf_pem, "-no_nonce", "-reqout",
                    req_path)
            req = open(req_path, "rb").read()
            ca_cert = x509.load_pem_x509_certificate(ca_der)
            serial = x509.load_pem_x509_certificate(cert["pem"].encode()).serial_number
            ocsp_path = f"/pki/ca/{ca['id']}/ocsp"
            cert_path = f"/pki/ca/{ca['id']}/cert"
            ca_cert_der = ca_cert.public_bytes(serialization.Encoding.DER)

            failures = []

            def client():
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", pport, timeout=30)
                    for i in range(ASKS):
                        if i % 5 == 4:  # AIA on the same kept-alive connection
                            conn.request("GET", cert_path)
                            r = conn.getresponse()
                            body = r.read()
                            assert r.status == 200 and body == ca_cert_der, r.status
                            continue
                        conn.request("POST", ocsp_path, body=req,
                                     headers={"Content-Type": "application/ocsp-request"})
                        r = conn.getresponse()
                        body = r.read()
                        assert r.status == 200, r.status
                        resp = ocsp.load_der_ocsp_response(body)
                        assert resp.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
                        assert resp.serial_number == serial
                        assert resp.certificate_status == ocsp.OCSPCertStatus.GOOD
                    conn.close()
                except Exception as e:  # reported below, with the others
                    failures.append(repr(e))

            threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(failures, [])
            # The answer's signature, checked by openssl once (all answers were equal in kind).
            conn = http.client.HTTPConnection("127.0.0.1", pport, timeout=30)
            conn.request("POST", ocsp_path, body=req,
                         headers={"Content-Type": "application/ocsp-request"})
            resp_path = write(work, "resp.der", conn.getresponse().read())
            r = openssl("ocsp", "-respin", resp_path, "-issuer", ca_pem, "-cert", leaf_pem,
                        "-CAfile", ca_pem, "-no_nonce", check=False)
            self.assertIn("Response verify OK", r.stdout + r.stderr)
            # Only public services on that port.
            conn.request("GET", "/api/v1/cas")
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 404)
            # Idle kept-alive connections on every loop do not hold up a clean stop (the
            # context manager's SIGTERM expects exit 0 within 20 s).
            idle = [socket.create_connection(("127.0.0.1", pport)) for _ in range(2 * LOOPS)]
        for s in idle:
            s.close()
        self.assertEqual(listening_sockets(pport), [])

    def test_bad_thread_counts_are_refused(self):
        for n in (0, 17):
            start_fails(self, 'public_http = { listen = "127.0.0.1"; port = %d; threads = %d; };\n'
                        % (free_port(), n), "public_http.threads must be 1 to 16")

    def test_taken_port_stops_the_start(self):
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        try:
            start_fails(self, 'public_http = { listen = "127.0.0.1"; port = %d; threads = 2; };\n'
                        % port, f"cannot listen on 127.0.0.1:{port}")
        finally:
            blocker.close()


if __name__ == "__main__":
    unittest.main()
