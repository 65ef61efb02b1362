"""pki-relay REST API robustness and tenancy: every bad input gets a clear JSON error and the
daemon stays up; another user's ids answer 404 on every route that takes one (the test walks
the whole route table, so a new route without a tenancy check fails here)."""
import socket
import ssl
import unittest

from pkitest import http
from relaytest import Client, add_user, assert_error, logged_in, make_csr, relay, routes

PW = "correct horse battery"


class BadInput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = relay('http = {{ listen = "127.0.0.1"; port = {port}; max_body = 4096; }};\n'
                      .replace('http = {{ listen = "127.0.0.1"; port = {port}; }};\n', ''))
        # The base config already has an http group: rebuild it with max_body.
        text = open(cls.d.config_path).read().splitlines()
        text = [l for l in text if not (l.startswith("http = ") and "max_body" not in l)]
        open(cls.d.config_path, "w").write("\n".join(text) + "\n")
        add_user(cls.d, "admin", PW, admin=True)
        cls.d.start()
        cls.c = logged_in(cls.d, "admin", PW)

    @classmethod
    def tearDownClass(cls):
        cls.d.__exit__(None, None, None)

    def tearDown(self):
        # After every bad request the daemon still answers.
        self.assertEqual(http("GET", self.d.url + "/healthz").status, 200)

    def test_malformed_json(self):
        for raw in (b"{", b"{\"name\": }", b"\xff\xfe", b"[1,2]", b"\"str\"", b"",
                    b"{\"name\":\"a\",\"name\":\"b\"}"):
            r = self.c.request("POST", "/api/v1/tokens", raw=raw,
                               headers={"Content-Type": "application/json"})
            assert_error(self, r, 400, "bad_json")
        self.assertEqual(self.c.get("/api/v1/tokens").json()["tokens"], [])

    def test_wrong_content_type(self):
        r = self.c.request("POST", "/api/v1/tokens", raw=b"name=x",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert_error(self, r, 415, "unsupported_media_type")

    def test_wrong_field_types(self):
        for body in ({"name": 5}, {"name": ""}, {"name": "a\nb"}, {"name": "x" * 200},
                     {"name": "ok", "expires_days": "ten"}, {"name": "ok", "expires_days": -1},
                     {"name": "ok", "expires_days": 1.5}, {}):
            r = self.c.post("/api/v1/tokens", body)
            self.assertEqual(r.status, 400, (body, r.body))
            self.assertIn(r.json()["error"]["code"], ("bad_field", "missing_field"))
        self.assertEqual(self.c.get("/api/v1/tokens").json()["tokens"], [])

    def test_oversized_body(self):
        r = self.c.post("/api/v1/tokens", {"name": "x", "pad": "y" * 10000})
        assert_error(self, r, 413)
        self.assertEqual(self.c.get("/api/v1/tokens").json()["tokens"], [])

    def test_unknown_route_and_method(self):
        assert_error(self, self.c.get("/api/v1/nothing"), 404, "not_found")
        assert_error(self, self.c.request("PATCH", "/api/v1/tokens", body={}), 405,
                     "method_not_allowed")
        assert_error(self, self.c.delete("/api/v1/tokens/abc"), 404, "not_found")
        assert_error(self, self.c.delete("/api/v1/tokens/-1"), 404, "not_found")
        assert_error(self, self.c.delete("/api/v1/tokens/99999999999999999999999"), 404)

    def test_unauthenticated(self):
        assert_error(self, http("GET", self.d.url + "/api/v1/me"), 401, "unauthenticated")
        r = http("GET", self.d.url + "/api/v1/me", headers={"Cookie": "pkr_session=forged"})
        assert_error(self, r, 401, "unauthenticated")
        r = http("POST", self.d.url + "/api/v1/tokens", body={"name": "x"},
                 headers={"Cookie": "pkr_session=" + "A" * 2000})
        assert_error(self, r, 401)

    def test_garbage_on_the_socket(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", self.d.port), timeout=5) as s:
            with ctx.wrap_socket(s) as t:
                t.sendall(b"\x00\x01GARBAGE / HTTP/9.9\r\n\r\n")
                try:
                    t.recv(100)
                except OSError:
                    pass
        # Plain HTTP spoken to the TLS port.
        with socket.create_connection(("127.0.0.1", self.d.port), timeout=5) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                s.recv(100)
            except OSError:
                pass


# For each path parameter context: how the owner makes a resource, returning its id.
def make_token(c):
    r = c.post("/api/v1/tokens", {"name": "owned"})
    assert r.status == 201, r.body
    return r.json()["id"]


class Owned:
    """One of each tenant resource, made once by the owner."""

    def __init__(self, c, workdir):
        r = c.post("/api/v1/cas", {"name": "owned-ca", "key_type": "ec-p256",
                                   "subject": "/CN=Owned CA"})
        assert r.status == 201, r.body
        self.ca = r.json()["id"]
        self.template = c.get(f"/api/v1/cas/{self.ca}/templates").json()["templates"][0]["id"]
        _, csr = make_csr(workdir, "owned", "/CN=owned.example.com", ("DNS:owned.example.com",))
        rid = c.post(f"/api/v1/templates/{self.template}/requests", {"csr": csr}).json()["id"]
        r = c.post(f"/api/v1/requests/{rid}/approve", {})
        assert r.status == 200, r.body
        self.certificate = r.json()["certificate"]["id"]
        self.request = c.post(f"/api/v1/templates/{self.template}/requests",
                              {"csr": csr}).json()["id"]

    def snapshot(self, c):
        return [c.get(p).body for p in (
            f"/api/v1/cas/{self.ca}", f"/api/v1/cas/{self.ca}/templates",
            f"/api/v1/cas/{self.ca}/requests", f"/api/v1/cas/{self.ca}/certificates",
            f"/api/v1/certificates/{self.certificate}", f"/api/v1/requests/{self.request}")]


RESOURCE_MAKERS = {
    "/api/v1/tokens/{id}": lambda c, owned: make_token(c),
    "/api/v1/cas/{id}": lambda c, owned: owned.ca,
    "/api/v1/templates/{id}": lambda c, owned: owned.template,
    "/api/v1/requests/{id}": lambda c, owned: owned.request,
    "/api/v1/certificates/{id}": lambda c, owned: owned.certificate,
}


class TenantIsolation(unittest.TestCase):
    def test_every_route_with_an_id_hides_foreign_resources(self):
        table = routes()
        # Public routes (CA certificates, CRLs, public request pages) are public by design;
        # administrator-only routes answer 403 to everyone else before any id is looked at.
        with_ids = [r for r in table if "{" in r["pattern"] and r["auth"] == "user"]
        self.assertTrue(with_ids)
        d = relay()
        add_user(d, "alice", PW)
        add_user(d, "bob", PW)
        with d:
            alice = logged_in(d, "alice", PW)
            bob = logged_in(d, "bob", PW)
            owned = Owned(alice, d.dir)
            before_all = owned.snapshot(alice)
            for route in with_ids:
                prefix = route["pattern"]
                maker = next((m for p, m in RESOURCE_MAKERS.items() if prefix.startswith(p)),
                             None)
                self.assertIsNotNone(maker, f"no tenancy check for {route['pattern']}: add a "
                                            "resource maker to RESOURCE_MAKERS")
                rid = maker(alice, owned)
                path = route["pattern"].replace("{id}", str(rid))
                before = alice.get("/api/v1/tokens").json()
                body = {} if route["body"] else None
                r = bob.request(route["method"], path, body=body)
                assert_error(self, r, 404, "not_found")
                self.assertNotIn(b"owned", r.body)
                # Unknown ids answer the same way as foreign ones.
                r2 = bob.request(route["method"], route["pattern"].replace("{id}", "987654"),
                                 body=body)
                self.assertEqual((r2.status, r2.json()["error"]["code"]),
                                 (r.status, r.json()["error"]["code"]))
                # Nothing changed for the owner.
                self.assertEqual(alice.get("/api/v1/tokens").json(), before)
                self.assertEqual(owned.snapshot(alice), before_all, route)
            # Bob's own listings do not show Alice's things either.
            self.assertEqual(bob.get("/api/v1/cas").json()["cas"], [])
            r = bob.post(f"/api/v1/cas/{owned.ca}/requests/bulk",
                         {"action": "decline", "ids": [owned.request]})
            assert_error(self, r, 404, "not_found")


if __name__ == "__main__":
    unittest.main()
