"""pki-relay accounts (P-1): first administrator from the command line or the one-time set-up
link, login/logout with secure cookies, CSRF, throttling, API tokens, expiry, admin rights,
audit log, and the HTTPS certificate and master key made on first start."""
import os
import re
import socket
import ssl
import stat
import unittest

from pkitest import http, run
from relaytest import (Client, add_user, assert_error, logged_in, new_state_dir, relay, relay_cmd,
                       set_cookies)

PW = "correct horse battery"


class FirstAdministrator(unittest.TestCase):
    def test_cli_user_add_reads_password_from_stdin(self):
        with relay() as d:
            r = relay_cmd(d, "user", "add", "--admin", "alice", input=PW + "\n")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("administrator alice", r.stdout)
            self.assertNotIn(PW, r.stdout + r.stderr)
            # Too short a password, a taken name, a bad name: refused, exit non-zero.
            r = relay_cmd(d, "user", "add", "bob", input="short\n")
            self.assertEqual(r.returncode, 1)
            self.assertIn("standard input", r.stderr)
            r = relay_cmd(d, "user", "add", "alice", input=PW + "\n")
            self.assertEqual(r.returncode, 1)
            self.assertIn("exists", r.stderr)
            r = relay_cmd(d, "user", "add", "bad name", input=PW + "\n")
            self.assertEqual(r.returncode, 2)
            c = logged_in(d, "alice", PW)
            me = c.get("/api/v1/me").json()
            self.assertEqual(me["user"]["name"], "alice")
            self.assertTrue(me["user"]["admin"])
            self.assertEqual(me["auth"], "session")
            self.assertNotIn(PW, d.output())

    def test_setup_link_is_one_time(self):
        with relay() as d:
            m = re.search(r"/setup#token=([A-Za-z0-9_-]+)", d.output())
            self.assertIsNotNone(m, d.output())
            token = m.group(1)
            c = Client(d)
            wrong = ("y" if token[0] == "x" else "x") + token[1:]
            body = {"token": wrong, "name": "root", "password": PW}
            assert_error(self, c.post("/api/v1/setup", body), 403, "setup_closed")
            body["token"] = token
            r = c.post("/api/v1/setup", body)
            self.assertEqual(r.status, 201, r.body)
            self.assertTrue(r.json()["admin"])
            # Used once: a second use, even with another name, is refused.
            body["name"] = "root2"
            assert_error(self, c.post("/api/v1/setup", body), 403, "setup_closed")
            logged_in(d, "root", PW)

    def test_no_setup_link_once_a_user_exists(self):
        d = relay()
        add_user(d, "alice", PW, admin=True)
        with d:
            self.assertNotIn("/setup#token=", d.output())


class Sessions(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = relay('login = {{ max_failures = 3; lockout = 120; }};\n')
        add_user(cls.d, "admin", PW, admin=True)
        add_user(cls.d, "carol", PW)
        add_user(cls.d, "victim", PW)
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.__exit__(None, None, None)

    def test_cookies_are_httponly_secure_samesite_strict(self):
        c = Client(self.d)
        r = c.login("carol", PW)
        self.assertEqual(r.status, 200)
        cookies = {x.split("=", 1)[0]: x for x in set_cookies(r)}
        sess = cookies["pkr_session"]
        for attr in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/"):
            self.assertIn(attr, sess)
        csrf = cookies["pkr_csrf"]
        self.assertNotIn("HttpOnly", csrf)  # scripts must read it
        self.assertIn("Secure", csrf)
        self.assertIn("SameSite=Strict", csrf)
        self.assertEqual(csrf.split(";")[0].split("=", 1)[1], r.json()["csrf_token"])
        # Logout ends the session and clears the cookies.
        old = dict(c.cookies)
        r = c.delete("/api/v1/session")
        self.assertEqual(r.status, 204)
        self.assertTrue(all("Max-Age=0" in x for x in set_cookies(r)))
        stale = Client(self.d)
        stale.cookies = old
        assert_error(self, stale.get("/api/v1/me"), 401, "unauthenticated")

    def test_csrf_required_for_cookie_authenticated_unsafe_methods(self):
        c = logged_in(self.d, "carol", PW)
        r = c.post("/api/v1/tokens", {"name": "t"}, csrf=False)
        assert_error(self, r, 403, "csrf_failed")
        r = c.post("/api/v1/tokens", {"name": "t"}, headers={"X-CSRF-Token": "A" * 43},
                   csrf=False)
        assert_error(self, r, 403, "csrf_failed")
        # Another session's CSRF token does not fit this session.
        other = logged_in(self.d, "carol", PW)
        r = c.post("/api/v1/tokens", {"name": "t"}, headers={"X-CSRF-Token": other.csrf},
                   csrf=False)
        assert_error(self, r, 403, "csrf_failed")
        # Nothing was created by the refused requests.
        self.assertEqual(c.get("/api/v1/tokens").json()["tokens"], [])
        r = c.post("/api/v1/tokens", {"name": "t"})
        self.assertEqual(r.status, 201, r.body)
        # GET needs no CSRF header.
        self.assertEqual(c.get("/api/v1/me", csrf=False).status, 200)
        c.delete(f"/api/v1/tokens/{r.json()['id']}")

    def test_wrong_password_and_throttling(self):
        c = Client(self.d)
        assert_error(self, c.login("victim", "wrong password"), 401, "invalid_credentials")
        assert_error(self, c.login("nobody", "wrong password"), 401, "invalid_credentials")
        assert_error(self, c.login("victim", "wrong password"), 401, "invalid_credentials")
        assert_error(self, c.login("victim", "wrong password"), 401, "invalid_credentials")
        # Locked now: even the right password is refused, with Retry-After.
        r = c.login("victim", PW)
        assert_error(self, r, 429, "too_many_attempts")
        self.assertGreater(int(r.headers["Retry-After"]), 0)

    def test_api_tokens(self):
        c = logged_in(self.d, "carol", PW)
        r = c.post("/api/v1/tokens", {"name": "ci", "expires_days": 30})
        self.assertEqual(r.status, 201, r.body)
        tok = r.json()
        self.assertTrue(tok["token"].startswith("pkr_"))
        bearer = Client(self.d, token=tok["token"])
        me = bearer.get("/api/v1/me").json()
        self.assertEqual(me["user"]["name"], "carol")
        self.assertEqual(me["auth"], "token")
        # A bearer token needs no CSRF header for unsafe methods.
        r2 = bearer.post("/api/v1/tokens", {"name": "second"})
        self.assertEqual(r2.status, 201, r2.body)
        listed = c.get("/api/v1/tokens").json()["tokens"]
        self.assertEqual({t["name"] for t in listed}, {"ci", "second"})
        self.assertNotIn("token", listed[0])  # shown once only
        # Deleting the token makes it useless.
        self.assertEqual(c.delete(f"/api/v1/tokens/{tok['id']}").status, 204)
        assert_error(self, bearer.get("/api/v1/me"), 401, "unauthenticated")
        assert_error(self, Client(self.d, token="pkr_nonsense").get("/api/v1/me"), 401)
        r = http("GET", self.d.url + "/api/v1/me", headers={"Authorization": "Basic eDp5"})
        assert_error(self, r, 401, "unauthenticated")
        c.delete(f"/api/v1/tokens/{r2.json()['id']}")

    def test_admin_only_routes(self):
        carol = logged_in(self.d, "carol", PW)
        assert_error(self, carol.get("/api/v1/users"), 403, "forbidden")
        r = carol.post("/api/v1/users", {"name": "mallory", "password": PW, "admin": True})
        assert_error(self, r, 403, "forbidden")
        admin = logged_in(self.d, "admin", PW)
        names = [u["name"] for u in admin.get("/api/v1/users").json()["users"]]
        self.assertNotIn("mallory", names)
        r = admin.post("/api/v1/users", {"name": "dave", "password": PW})
        self.assertEqual(r.status, 201, r.body)
        self.assertFalse(r.json()["admin"])
        assert_error(self, admin.post("/api/v1/users", {"name": "dave", "password": PW}), 409,
                     "conflict")
        assert_error(self, admin.post("/api/v1/users", {"name": "eve", "password": "short"}),
                     400, "weak_password")
        logged_in(self.d, "dave", PW)

    def test_password_change_ends_sessions(self):
        admin = logged_in(self.d, "admin", PW)
        admin.post("/api/v1/users", {"name": "frank", "password": PW})
        f1 = logged_in(self.d, "frank", PW)
        f2 = logged_in(self.d, "frank", PW)
        r = f1.put("/api/v1/me/password", {"current_password": "nope nope", "new_password": "x" * 12})
        assert_error(self, r, 403, "invalid_credentials")
        r = f1.put("/api/v1/me/password", {"current_password": PW, "new_password": "new password 1"})
        self.assertEqual(r.status, 204, r.body)
        assert_error(self, f2.get("/api/v1/me"), 401)
        assert_error(self, Client(self.d).login("frank", PW), 401, "invalid_credentials")
        logged_in(self.d, "frank", "new password 1")

    def test_audit_log(self):
        admin = logged_in(self.d, "admin", PW)
        admin.post("/api/v1/users", {"name": "gina", "password": PW})
        g = logged_in(self.d, "gina", PW)
        g.post("/api/v1/tokens", {"name": "gina-token"})
        entries = admin.get("/api/v1/audit?limit=1000").json()["entries"]
        actions = [(e["action"], e["actor"]) for e in entries]
        self.assertIn(("user.create", "admin"), actions)
        self.assertIn(("session.login", "gina"), actions)
        self.assertIn(("token.create", "gina"), actions)
        for e in entries:
            self.assertNotIn(PW, str(e))
        mine = g.get("/api/v1/audit").json()["entries"]
        self.assertTrue(mine)
        self.assertTrue(all(e["actor"] == "gina" for e in mine))
        assert_error(self, g.get("/api/v1/audit?limit=abc"), 400, "bad_query")
        # Searchable by action prefix.
        only = admin.get("/api/v1/audit?action=token.").json()["entries"]
        self.assertTrue(only)
        self.assertTrue(all(e["action"].startswith("token.") for e in only))
        self.assertEqual(admin.get("/api/v1/audit?action=no.such.").json()["entries"], [])


class Expiry(unittest.TestCase):
    """Session expiry with the injectable clock: sessions persist across a restart, so the
    relay is restarted with a later PKI_FAKE_NOW."""

    def test_absolute_and_idle_expiry(self):
        t0 = 1_900_000_000
        extra = 'session = {{ lifetime = 3600; idle_timeout = 600; }};\n'
        state = new_state_dir(self)
        d1 = relay(extra, env={"PKI_FAKE_NOW": str(t0)}, state_dir=state)
        add_user(d1, "ann", PW)
        with d1:
            a = logged_in(d1, "ann", PW)
            b = logged_in(d1, "ann", PW)
        # 5 minutes later: both sessions live; b is used (its idle clock restarts).
        d2 = relay(extra, env={"PKI_FAKE_NOW": str(t0 + 300)}, state_dir=state)
        with d2:
            a.d = b.d = d2
            self.assertEqual(b.get("/api/v1/me").status, 200)
        # 11 minutes after a's last use: a is idle-expired, b (used at +5 min) is not.
        d3 = relay(extra, env={"PKI_FAKE_NOW": str(t0 + 660)}, state_dir=state)
        with d3:
            a.d = b.d = d3
            assert_error(self, a.get("/api/v1/me"), 401, "session_expired")
            self.assertEqual(b.get("/api/v1/me").status, 200)
        # Past the absolute lifetime nothing helps.
        d4 = relay(extra, env={"PKI_FAKE_NOW": str(t0 + 3601)}, state_dir=state)
        with d4:
            b.d = d4
            assert_error(self, b.get("/api/v1/me"), 401, "session_expired")


class FirstStart(unittest.TestCase):
    def test_self_signed_certificate_and_master_key(self):
        d = relay(state_dir=new_state_dir(self))
        with d:
            crt = os.path.join(d.state_dir, "tls", "relay.crt")
            key = os.path.join(d.state_dir, "tls", "relay.key")
            self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
            served = ssl.get_server_certificate(("127.0.0.1", d.port))
            with open(crt) as f:
                self.assertEqual(ssl.PEM_cert_to_DER_cert(served),
                                 ssl.PEM_cert_to_DER_cert(f.read()))
            mk = os.path.join(d.state_dir, "master.key")
            self.assertEqual(stat.S_IMODE(os.stat(mk).st_mode), 0o600)
            self.assertEqual(os.path.getsize(mk), 32)
            first = served
        # Restart: the same certificate (a client's pin stays valid).
        d2 = relay(state_dir=d.state_dir)
        with d2:
            self.assertEqual(ssl.get_server_certificate(("127.0.0.1", d2.port)), first)
        # A master key readable by others stops the start with a clear reason.
        os.chmod(mk, 0o640)
        d3 = relay(state_dir=d.state_dir)
        with self.assertRaises(RuntimeError):
            d3.start(timeout=10)
        self.assertIn("group or others", d3.output())
        self.assertNotEqual(d3.proc.wait(), 0)
        os.chmod(mk, 0o600)

    def test_configured_certificate_used_as_is(self):
        d = relay()
        cert = os.path.join(d.dir, "c.pem")
        key = os.path.join(d.dir, "k.pem")
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", key, "-out", cert, "-subj", "/CN=relay.test", "-days", "2"])
        with open(d.config_path, "a") as f:
            f.write(f'http = {{ listen = "127.0.0.1"; port = {d.port}; '
                    f'tls_cert = "{cert}"; tls_key = "{key}"; }};\n')
        # Rewrite the config: one http group only.
        text = open(d.config_path).read().splitlines()
        text = [l for l in text if not (l.startswith("http = ") and "tls_cert" not in l)]
        open(d.config_path, "w").write("\n".join(text) + "\n")
        with d:
            served = ssl.get_server_certificate(("127.0.0.1", d.port))
            self.assertEqual(ssl.PEM_cert_to_DER_cert(served),
                             ssl.PEM_cert_to_DER_cert(open(cert).read()))
            self.assertFalse(os.path.exists(os.path.join(d.state_dir, "tls", "relay.crt")))


if __name__ == "__main__":
    unittest.main()
