"""lib/httpd (shared by both daemons) with real clients. Request header fields over the limit get
`431 Request Header Fields Too Large` (RFC 6585) with a JSON error, from a real client
(python's http.client, over plain HTTP and over TLS), on the relay's public HTTP listener, its
HTTPS API and the agent's HTTPS UI; requests under the limit are answered as before, a body sent
with a refused request is not handed to the handler, and the daemons stay up. A POST with an
explicit `Content-Length: 0` runs its handler once (lws announces such a body twice), on a
keep-alive connection that then serves the next request."""
import http.client as httpclient
import json
import os
import ssl
import sys
import unittest

from pkitest import SOURCE_DIR, free_port, http
from relaytest import add_user, logged_in, relay

sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "agent"))
import agentlib  # noqa: E402  (the agent's own test helpers: a configured agent)

LIMIT = 8192


def connect(url):
    scheme, _, rest = url.partition("://")
    host, _, port = rest.partition(":")
    if scheme == "https":
        return httpclient.HTTPSConnection(host, int(port), timeout=30,
                                           context=ssl._create_unverified_context())
    return httpclient.HTTPConnection(host, int(port), timeout=30)


def ask(url, path, headers, method="GET", body=None):
    c = connect(url)
    try:
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        return r.status, r.msg, r.read()
    finally:
        c.close()


class Headers(unittest.TestCase):
    def check_listener(self, url, path):
        # Under the limit: answered as usual.
        status, _, body = ask(url, path, {"Cookie": "a=" + "x" * 6000})
        self.assertEqual(status, 200, body)
        # Over it, in one field or in several: 431 with the JSON error the API uses.
        for headers in ({"Cookie": "a=" + "x" * (LIMIT + 100)},
                        {"Cookie": "a=" + "x" * 5000, "Authorization": "Bearer " + "y" * 5000},
                        {"Cookie": "a=" + "x" * 20000}):
            status, hdrs, body = ask(url, path, headers)
            self.assertEqual(status, 431, body)
            self.assertTrue(hdrs.get("Content-Type", "").startswith("application/json"), hdrs)
            self.assertEqual(json.loads(body)["error"]["code"], "headers_too_large")
        # A POST refused for its headers: its body is read and dropped, one answer only, and
        # the same connection serves the next request.
        c = connect(url)
        try:
            c.request("POST", path, body=b"{}" * 100,
                      headers={"Cookie": "a=" + "x" * 9000, "Content-Type": "application/json"})
            r = c.getresponse()
            self.assertEqual(r.status, 431)
            r.read()
            c.request("GET", path)
            r = c.getresponse()
            self.assertEqual(r.status, 200)
            r.read()
        finally:
            c.close()
        # Still up.
        self.assertEqual(http("GET", url + path).status, 200)

    def test_relay(self):
        pport = free_port()
        d = relay('public_http = {{ listen = "127.0.0.1"; port = %d; }};\n' % pport)
        with d:
            self.check_listener(f"http://127.0.0.1:{pport}", "/healthz")
            self.check_listener(d.url, "/healthz")
            self.assertIn("header fields (431)", d.output())

    def test_empty_post_runs_once(self):
        d = relay()
        add_user(d, "alice", "correct horse battery", admin=True)
        with d:
            c = logged_in(d, "alice", "correct horse battery")
            ca = c.post("/api/v1/cas", {"name": "Once", "key_type": "ec-p256",
                                        "subject": "/CN=Once CA"}).json()
            token = c.post("/api/v1/tokens", {"name": "t"}).json()["token"]
            auth = {"Authorization": "Bearer " + token}
            conn = connect(d.url)
            try:
                # http.client sends "Content-Length: 0" for an empty body.
                conn.request("POST", f"/api/v1/cas/{ca['id']}/ocsp-certificate", body=b"",
                             headers=auth)
                r = conn.getresponse()
                self.assertEqual(r.status, 200, r.read())
                r.read()
                conn.request("GET", "/api/v1/audit?limit=100",
                             headers=auth)
                r = conn.getresponse()
                self.assertEqual(r.status, 200)
                entries = [e for e in json.loads(r.read())["entries"]
                           if e["action"] == "ca.ocsp_certificate"]
            finally:
                conn.close()
            self.assertEqual(len(entries), 1, entries)

    def test_agent(self):
        d = agentlib.agent()
        with d:
            self.check_listener(d.url, "/healthz")


if __name__ == "__main__":
    unittest.main()
