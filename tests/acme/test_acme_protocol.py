"""ACME protocol (RFC 8555) against pki-relay with a small client on python3-cryptography:
every refusal with its problem type, the four JWS algorithms, HTTP-01 and DNS-01 validation,
pre-approved names, wildcard orders, key rollover, deactivation, revocation, orders list.
The issued chain is checked with openssl."""
import os
import subprocess
import tempfile
import time
import unittest

from cryptography import x509
from cryptography.hazmat.primitives import serialization

import acmetest as A
from pkitest import Daemon, free_port, http


class AcmeProtocol(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.holder = A.Cleanups()
        cls.R = A.AcmeRelay(cls.holder)
        cls.pid = cls.R.policy(allowed=["*.example.test"], preapproved=["*.pre.example.test"])

    @classmethod
    def tearDownClass(cls):
        cls.holder.run()

    def client(self, alg="ES256", uses=1):
        c = A.Client(self.R.directory, A.Key(alg))
        r = c.register(eab=self.R.eab(self.pid, max_uses=uses))
        self.assertEqual(r.status, 201, r.body)
        return c

    # ---- directory and nonces ----

    def test_directory_and_nonce(self):
        r = http("GET", self.R.directory)
        self.assertEqual(r.status, 200)
        d = r.json()
        for k in ("newNonce", "newAccount", "newOrder", "revokeCert", "keyChange"):
            self.assertTrue(d[k].startswith(self.R.d.url + "/acme/"), d)
        self.assertTrue(d["meta"]["externalAccountRequired"])
        h = http("HEAD", d["newNonce"])
        self.assertEqual(h.status, 200)
        g = http("GET", d["newNonce"])
        self.assertEqual(g.status, 204)
        self.assertNotEqual(h.headers["Replay-Nonce"], g.headers["Replay-Nonce"])
        self.assertIn('rel="index"', g.headers["Link"])
        self.assertEqual(g.headers["Cache-Control"], "no-store")

    def test_nonce_reused_and_stale(self):
        c = A.Client(self.R.directory)
        n = c.nonce()
        url = c.dir["newAccount"]
        body = A.jws(c.key, url, {"onlyReturnExisting": True}, nonce=n)
        A.problem(self, c.raw(url, body), 400, "accountDoesNotExist")
        body = A.jws(c.key, url, {"onlyReturnExisting": True}, nonce=n)
        A.problem(self, c.raw(url, body), 400, "badNonce")  # reused
        body = A.jws(c.key, url, {"onlyReturnExisting": True}, nonce="AAAAAAAAAAAAAAAAAAAAAA")
        A.problem(self, c.raw(url, body), 400, "badNonce")  # never issued (stale)
        body = A.jws(c.key, url, {"onlyReturnExisting": True}, nonce=None)
        A.problem(self, c.raw(url, body), 400, "badNonce")  # missing

    def test_wrong_url_and_bad_requests(self):
        c = A.Client(self.R.directory)
        url = c.dir["newAccount"]
        body = A.jws(c.key, c.dir["newOrder"], {}, nonce=c.nonce())
        A.problem(self, c.raw(url, body), 401, "unauthorized")
        body = A.jws(c.key, url, {}, nonce=c.nonce())
        A.problem(self, c.raw(url, body, content_type="application/json"), 415, "malformed")
        body = A.jws(c.key, url, {}, nonce=c.nonce(), alg="HS256")
        A.problem(self, c.raw(url, body), 400, "badSignatureAlgorithm")
        body = A.jws(c.key, url, {}, nonce=c.nonce())
        body["signature"] = A.b64u(b"\x01" * 64)
        A.problem(self, c.raw(url, body), 400, "malformed")
        r = http("GET", self.R.d.url + "/acme/order/1")
        self.assertEqual(r.status, 405)

    # ---- accounts and EAB ----

    def test_all_algorithms_register(self):
        for alg in ("RS256", "ES256", "ES384", "EdDSA"):
            with self.subTest(alg=alg):
                c = self.client(alg)
                r = c.get(c.kid)
                self.assertEqual(r.status, 200, r.body)
                self.assertEqual(r.json()["status"], "valid")

    def test_eab_refusals(self):
        c = A.Client(self.R.directory)
        A.problem(self, c.register(), 400, "externalAccountRequired")
        kid, key = self.R.eab(self.pid, max_uses=1)
        bad = A.b64u(bytes(32))
        A.problem(self, c.register(eab=(kid, bad)), 401, "unauthorized")  # bad HMAC
        A.problem(self, c.register(eab=("nosuchkid", key)), 401, "unauthorized")
        self.assertEqual(c.register(eab=(kid, key)).status, 201)
        # Same key again: the existing account, no second use of the credential.
        self.assertEqual(c.register(eab=(kid, key)).status, 200)
        other = A.Client(self.R.directory)
        j = A.problem(self, other.register(eab=(kid, key)), 401, "unauthorized")  # used up
        self.assertIn("used up", j["detail"])
        # onlyReturnExisting finds the account by key without any EAB.
        again = A.Client(self.R.directory, c.key)
        r = again.register(only_existing=True)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.headers["Location"], c.kid)

    def test_eab_expired(self):
        """A second relay on the same database with its clock two days ahead (PKI_FAKE_NOW)."""
        kid, key = self.R.eab(self.pid, max_uses=5,
                              expires=time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                    time.gmtime(time.time() + 86400)))
        with open(self.R.d.config_path) as f:
            cfg = f.read()
        port = free_port()
        cfg = cfg.replace(f":{self.R.d.port}", f":{port}").replace(
            f"port = {self.R.d.port};", f"port = {port};")
        d = Daemon("pki-relay", cfg.replace("{", "{{").replace("}", "}}"),
                   env={"PKI_FAKE_NOW": str(int(time.time()) + 2 * 86400)}, scheme="https")
        d.port = port
        with d:
            c = A.Client(f"{d.url}/acme/directory")
            j = A.problem(self, c.register(eab=(kid, key)), 401, "unauthorized")
            self.assertIn("expired", j["detail"])
        # That relay's housekeeping ended the admin session (idle two days): log in again.
        self.R.api = A.relaytest.logged_in(self.R.d, A.ADMIN, A.PASSWORD)
        # The same credential still works on the relay with the real clock.
        c = A.Client(self.R.directory)
        self.assertEqual(c.register(eab=(kid, key)).status, 201)

    def test_account_update_deactivate_keychange(self):
        c = self.client()
        r = c.post(c.kid, {"contact": ["mailto:new@example.com"]})
        self.assertEqual(r.json()["contact"], ["mailto:new@example.com"])
        A.problem(self, c.post(c.kid, {"contact": ["tel:+1"]}), 400, "unsupportedContact")
        # key rollover
        new = A.Key("ES256")
        url = c.dir["keyChange"]
        inner = A.jws(new, url, {"account": c.kid, "oldKey": c.key.jwk()})
        r = c.post(url, inner)
        self.assertEqual(r.status, 200, r.body)
        A.problem(self, c.get(c.kid), 400, "malformed")  # old key no longer verifies
        c.key = new
        self.assertEqual(c.get(c.kid).status, 200)
        # deactivation is final
        r = c.post(c.kid, {"status": "deactivated"})
        self.assertEqual(r.json()["status"], "deactivated")
        A.problem(self, c.get(c.kid), 401, "unauthorized")
        A.problem(self, A.Client(self.R.directory, new).register(only_existing=True), 401,
                  "unauthorized")

    # ---- orders ----

    def test_domain_outside_policy(self):
        c = self.client()
        A.problem(self, c.new_order(["www.example.org"]), 400, "rejectedIdentifier")
        A.problem(self, c.new_order(["bad..name.example.test"]), 400, "rejectedIdentifier")
        r = c.post(c.dir["newOrder"], {"identifiers": [{"type": "ip", "value": "127.0.0.1"}]})
        A.problem(self, r, 400, "unsupportedIdentifier")

    def finalize(self, c, order, names, key=None):
        der, k = A.csr_der(names, key)
        r = c.post(order["finalize"], {"csr": A.b64u(der)})
        return r, k

    def test_preapproved_issues_without_challenge_and_revoke(self):
        c = self.client()
        r = c.new_order(["a.pre.example.test", "pre.example.test"])
        self.assertEqual(r.status, 201, r.body)
        order, order_url = r.json(), r.headers["Location"]
        self.assertEqual(order["status"], "ready")
        authz = c.get(order["authorizations"][0]).json()
        self.assertEqual(authz["status"], "valid")
        # CSR with a name outside the order
        r, _ = self.finalize(c, order, ["a.pre.example.test", "pre.example.test",
                                        "x.example.test"])
        A.problem(self, r, 400, "badCSR")
        r, _ = self.finalize(c, order, ["a.pre.example.test"])
        A.problem(self, r, 400, "badCSR")
        r, key = self.finalize(c, order, ["pre.example.test", "a.pre.example.test"])
        self.assertEqual(r.status, 200, r.body)
        order = r.json()
        self.assertEqual(order["status"], "valid")
        r = c.get(order["certificate"])
        self.assertEqual(r.headers["Content-Type"], "application/pem-certificate-chain")
        certs = A.load_chain(r.body)
        self.assertEqual(len(certs), 2)
        san = certs[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        self.assertEqual(sorted(san.get_values_for_type(x509.DNSName)),
                         ["a.pre.example.test", "pre.example.test"])
        with tempfile.TemporaryDirectory() as t:
            chain = os.path.join(t, "chain.pem")
            with open(chain, "wb") as f:
                f.write(r.body)
            v = subprocess.run(["openssl", "verify", "-CAfile", self.R.ca_pem, "-purpose",
                                "sslserver", chain], capture_output=True, text=True)
            self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        # orders list
        lst = c.get(c.kid + "/orders").json()["orders"]
        self.assertEqual(lst, [order_url])
        # revocation by the certificate's key (a JWS with that jwk)
        der = certs[0].public_bytes(serialization.Encoding.DER)
        ck = A.Key("ES256")
        ck.k = key
        body = A.jws(ck, c.dir["revokeCert"], {"certificate": A.b64u(der), "reason": 1},
                     nonce=c.nonce())
        r = c.raw(c.dir["revokeCert"], body)
        self.assertEqual(r.status, 200, r.body)
        A.problem(self, c.post(c.dir["revokeCert"], {"certificate": A.b64u(der)}), 400,
                  "alreadyRevoked")
        # The relay's own certificate list shows it revoked (CRL/OCSP source).
        lst = self.R.api.get(f"/api/v1/cas/{self.R.ca['id']}/certificates?status=revoked").json()
        serial = format(certs[0].serial_number, "x")
        self.assertIn(serial, r_serials(lst))

    def test_http01_and_failed_challenge(self):
        c = self.client()
        responses = {}
        stop = A.serve_http01(self.R.http01_port, responses)
        self.addCleanup(stop)
        r = c.new_order(["ok.example.test", "bad.example.test"])
        order, order_url = r.json(), r.headers["Location"]
        self.assertEqual(order["status"], "pending")
        authz = [c.get(u).json() for u in order["authorizations"]]
        for a in authz:
            types = sorted(ch["type"] for ch in a["challenges"])
            self.assertEqual(types, ["dns-01", "http-01"])
        ok = [a for a in authz if a["identifier"]["value"] == "ok.example.test"][0]
        bad = [a for a in authz if a["identifier"]["value"] == "bad.example.test"][0]
        ch_ok = [ch for ch in ok["challenges"] if ch["type"] == "http-01"][0]
        ch_bad = [ch for ch in bad["challenges"] if ch["type"] == "http-01"][0]
        responses[ch_ok["token"]] = ch_ok["token"] + "." + c.key.thumbprint()
        responses[ch_bad["token"]] = ch_bad["token"] + ".wrong"
        r = c.post(ch_ok["url"], {})
        self.assertEqual(r.status, 200, r.body)
        self.assertIn('rel="up"', " ".join(r.headers.get_all("Link")))
        self.assertEqual(c.wait(order["authorizations"][authz.index(ok)])["status"], "valid")
        c.post(ch_bad["url"], {})
        a = c.wait(order["authorizations"][authz.index(bad)])
        self.assertEqual(a["status"], "invalid")
        err = [ch for ch in a["challenges"] if ch["type"] == "http-01"][0]["error"]
        self.assertEqual(err["type"], "urn:ietf:params:acme:error:unauthorized")
        order = c.get(order_url).json()
        self.assertEqual(order["status"], "invalid")
        self.assertNotIn(order_url, c.get(c.kid + "/orders").json()["orders"])
        r, _ = self.finalize(c, order, ["ok.example.test", "bad.example.test"])
        A.problem(self, r, 403, "orderNotReady")

    def test_http01_redirects(self):
        """Redirects are followed to other names on port 80/443 (or the validation port), never
        to another port or an address literal."""
        c = self.client()
        responses = {}
        stop = A.serve_http01(self.R.http01_port, responses)
        self.addCleanup(stop)
        order = c.new_order(["r1.example.test", "r2.example.test", "r3.example.test"]).json()
        chall = {}
        for u in order["authorizations"]:
            a = c.get(u).json()
            chall[a["identifier"]["value"]] = (u, [x for x in a["challenges"]
                                                   if x["type"] == "http-01"][0])
        port = self.R.http01_port
        u1, ch1 = chall["r1.example.test"]
        responses[ch1["token"]] = f"REDIRECT:http://moved.example.test:{port}/x/moved-1"
        responses["moved-1"] = ch1["token"] + "." + c.key.thumbprint()
        u2, ch2 = chall["r2.example.test"]
        responses[ch2["token"]] = "REDIRECT:http://moved.example.test:8443/x/moved-2"
        responses["moved-2"] = ch2["token"] + "." + c.key.thumbprint()
        u3, ch3 = chall["r3.example.test"]
        responses[ch3["token"]] = f"REDIRECT:http://127.0.0.1:{port}/x/moved-3"
        responses["moved-3"] = ch3["token"] + "." + c.key.thumbprint()
        for _, ch in chall.values():
            c.post(ch["url"], {})
        self.assertEqual(c.wait(u1)["status"], "valid")
        for u, why in ((u2, "port 8443"), (u3, "address")):
            a = c.wait(u)
            self.assertEqual(a["status"], "invalid")
            err = [x for x in a["challenges"] if x["type"] == "http-01"][0]["error"]
            self.assertEqual(err["type"], "urn:ietf:params:acme:error:unauthorized")
            self.assertIn(why, err["detail"])

    def test_http01_size_limit_and_timeout(self):
        """A body over 8 KiB and a server that never answers both fail the challenge; the relay
        gives up after acme.validation_timeout (5 s here) and keeps serving meanwhile."""
        c = self.client()
        responses = {}
        stop = A.serve_http01(self.R.http01_port, responses)
        self.addCleanup(stop)
        order = c.new_order(["big.example.test", "slow.example.test"]).json()
        urls = {}
        for u in order["authorizations"]:
            a = c.get(u).json()
            ch = [x for x in a["challenges"] if x["type"] == "http-01"][0]
            urls[a["identifier"]["value"]] = u
            responses[ch["token"]] = ("x" * 9000 if a["identifier"]["value"].startswith("big")
                                      else "HANG")
            c.post(ch["url"], {})
        t0 = time.monotonic()
        self.assertEqual(http("GET", self.R.directory).status, 200)  # the loop is not blocked
        a = c.wait(urls["big.example.test"])
        err = [x for x in a["challenges"] if x["type"] == "http-01"][0]["error"]
        self.assertIn("larger than 8192", err["detail"])
        a = c.wait(urls["slow.example.test"], timeout=30)
        self.assertEqual(a["status"], "invalid")
        err = [x for x in a["challenges"] if x["type"] == "http-01"][0]["error"]
        self.assertEqual(err["type"], "urn:ietf:params:acme:error:connection")
        self.assertLess(time.monotonic() - t0, 15)

    def test_dns01_wildcard(self):
        c = self.client()
        order = c.new_order(["*.wild.example.test", "wild.example.test"]).json()
        urls = order["authorizations"]
        authz = [c.get(u).json() for u in urls]
        wild = [a for a in authz if a.get("wildcard")][0]
        self.assertEqual([ch["type"] for ch in wild["challenges"]], ["dns-01"])
        values = []
        for a in authz:
            ch = [x for x in a["challenges"] if x["type"] == "dns-01"][0]
            ka = ch["token"] + "." + c.key.thumbprint()
            values.append(A.b64u(__import__("hashlib").sha256(ka.encode()).digest()))
        self.R.dns.set_txt("_acme-challenge.wild.example.test", values)
        for a, u in zip(authz, urls):
            ch = [x for x in a["challenges"] if x["type"] == "dns-01"][0]
            c.post(ch["url"], {})
        for u in urls:
            self.assertEqual(c.wait(u)["status"], "valid")
        r, _ = self.finalize(c, order, ["*.wild.example.test", "wild.example.test"])
        self.assertEqual(r.status, 200, r.body)
        cert = A.load_chain(c.get(r.json()["certificate"]).body)[0]
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        self.assertIn("*.wild.example.test", san.get_values_for_type(x509.DNSName))
        # revocation by the account
        der = cert.public_bytes(serialization.Encoding.DER)
        self.assertEqual(c.post(c.dir["revokeCert"], {"certificate": A.b64u(der)}).status, 200)

    def test_dns01_missing_record_fails(self):
        c = self.client()
        order = c.new_order(["nodns.example.test"]).json()
        a = c.get(order["authorizations"][0]).json()
        ch = [x for x in a["challenges"] if x["type"] == "dns-01"][0]
        c.post(ch["url"], {})
        a = c.wait(order["authorizations"][0])
        self.assertEqual(a["status"], "invalid")
        err = [x for x in a["challenges"] if x["type"] == "dns-01"][0]["error"]
        self.assertEqual(err["type"], "urn:ietf:params:acme:error:incorrectResponse")

    def test_admin_api_and_secrets(self):
        R = self.R
        kid, key = R.eab(self.pid, name="secret-check")
        listing = R.api.get("/api/v1/acme/eab")
        self.assertEqual(listing.status, 200)
        self.assertIn(kid, listing.body.decode())
        self.assertNotIn(key, listing.body.decode())  # the HMAC key is shown once only
        audit = R.api.get("/api/v1/audit").body.decode()
        self.assertIn("acme.eab.create", audit)
        self.assertNotIn(key, audit)
        self.assertNotIn(key, R.d.output())
        # At rest the key is sealed: neither its text nor its bytes are in the database.
        import sqlite3
        db = sqlite3.connect(os.path.join(R.d.state_dir, "relay.db"))
        blob = db.execute("SELECT sealed_key FROM acme_eab WHERE kid=?", (kid,)).fetchone()[0]
        db.close()
        self.assertNotIn(A.b64u_dec(key), blob)
        with open(os.path.join(R.d.state_dir, "relay.db"), "rb") as f:
            self.assertNotIn(key.encode(), f.read())
        # A policy in use cannot be deleted; an unused one can.
        r = R.api.delete(f"/api/v1/acme/policies/{self.pid}")
        self.assertEqual(r.status, 409, r.body)
        spare = R.policy(name="spare")
        self.assertEqual(R.api.delete(f"/api/v1/acme/policies/{spare}").status, 204)
        # Bad input changes nothing.
        r = R.api.post("/api/v1/acme/policies", {"name": "x", "template_id": R.template_id,
                                                 "allowed_domains": ["not a name"]})
        self.assertEqual(r.status, 400)
        r = R.api.post("/api/v1/acme/eab", {"name": "x", "policy_id": self.pid,
                                            "expires": "2001-01-01T00:00:00Z"})
        self.assertEqual(r.status, 400)
        # An account stays bound to its policy after its credential is deleted.
        c = A.Client(R.directory)
        self.assertEqual(c.register(eab=R.eab(self.pid, name="gone")).status, 201)
        eabs = R.api.get("/api/v1/acme/eab").json()["credentials"]
        gone = [e for e in eabs if e["name"] == "gone"][0]
        self.assertEqual(R.api.delete(f"/api/v1/acme/eab/{gone['id']}").status, 204)
        self.assertEqual(c.new_order(["pre.example.test"]).status, 201)
        A.problem(self, c.new_order(["www.example.org"]), 400, "rejectedIdentifier")

    def test_eab_credentials_are_usable_as_typed(self):
        # certbot and lego read an option value starting with '-' as a flag; one base64url key
        # in 64 starts with '-', so 300 draws find that case with probability > 99 %.
        for i in range(300):
            kid, key = self.R.eab(self.pid, name=f"draw-{i}")
            self.assertFalse(kid.startswith("-"), kid)
            self.assertFalse(key.startswith("-"), key)
            self.assertGreaterEqual(len(A.b64u_dec(key)), 32)
        r = self.R.api.post("/api/v1/acme/eab", {"name": "cmd", "policy_id": self.pid})
        self.assertIn("--eab-hmac-key=" + r.json()["hmac_key"], r.json()["examples"]["certbot"])

    def test_races(self):
        """Concurrent use: a one-time credential makes one account; an order is finalized once."""
        import concurrent.futures as cf
        kid, key = self.R.eab(self.pid, max_uses=1)
        clients = [A.Client(self.R.directory) for _ in range(6)]
        with cf.ThreadPoolExecutor(6) as ex:
            codes = sorted(ex.map(lambda c: c.register(eab=(kid, key)).status, clients))
        self.assertEqual(codes, [201, 401, 401, 401, 401, 401])
        c = self.client()
        order = c.new_order(["race.pre.example.test"]).json()
        with cf.ThreadPoolExecutor(4) as ex:
            results = list(ex.map(lambda _: self.finalize(c, order, ["race.pre.example.test"])[0],
                                  range(4)))
        self.assertEqual(sorted(r.status for r in results), [200, 403, 403, 403])
        for r in results:
            if r.status == 403:
                self.assertEqual(r.json()["type"], "urn:ietf:params:acme:error:orderNotReady")

    def test_foreign_resources_are_hidden(self):
        a, b = self.client(), self.client()
        order = a.new_order(["pre.example.test"]).json()
        A.problem(self, b.get(order["authorizations"][0]), 404, "malformed")
        A.problem(self, b.get(a.kid), 403, "unauthorized")


class NonceLifetime(unittest.TestCase):
    """acme.nonce_lifetime end to end: a nonce used within its lifetime is accepted, one used
    after it is refused with 400 badNonce, and the fresh nonce of that refusal works. The
    relay's clock is a file (PKI_FAKE_NOW=@file) moved forward, so nothing waits for time."""
    LIFE = 30

    def set_clock(self, t):
        tmp = self.clock + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(t))
        os.replace(tmp, self.clock)  # the relay reads the file at every call: never half of it

    def test_expired_nonce_is_bad(self):
        self.clock = os.path.join(tempfile.mkdtemp(prefix="acme-clock-"), "now")
        t0 = int(time.time())
        self.set_clock(t0)
        R = A.AcmeRelay(self, acme_extra=f"nonce_lifetime = {self.LIFE};",
                        env={"PKI_FAKE_NOW": "@" + self.clock})
        c = A.Client(R.directory)
        url = c.dir["newAccount"]
        early, late = c.nonce(), c.nonce()  # both issued at t0

        def ask(nonce):
            return c.raw(url, A.jws(c.key, url, {"onlyReturnExisting": True}, nonce=nonce))

        # one second before the end of its lifetime: past the nonce check (no such account)
        self.set_clock(t0 + self.LIFE - 1)
        A.problem(self, ask(early), 400, "accountDoesNotExist")
        # one second after: stale
        self.set_clock(t0 + self.LIFE + 1)
        r = ask(late)
        A.problem(self, r, 400, "badNonce")
        A.problem(self, ask(r.headers["Replay-Nonce"]), 400, "accountDoesNotExist")
        # a nonce fetched now lives LIFE seconds from now
        fresh = c.nonce()
        self.set_clock(t0 + 2 * self.LIFE)
        A.problem(self, ask(fresh), 400, "accountDoesNotExist")


def r_serials(listing):
    items = listing.get("certificates", listing if isinstance(listing, list) else [])
    return [c.get("serial", "").lstrip("0") for c in items]


if __name__ == "__main__":
    unittest.main(verbosity=2)
