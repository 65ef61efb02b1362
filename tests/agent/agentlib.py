"""Shared helpers for the iothsm-agent tests: a configured agent with an admin password, and a
logged-in JSON API client that carries the session cookie and the CSRF header."""
import http.cookiejar
import json
import os
import ssl
import urllib.error
import urllib.request

import pkitest

PASSWORD = "correct horse battery staple"

CONFIG = """
state_dir = "{state_dir}"
http = {{
  listen = "127.0.0.1";
  port = {port};
  webui_root = "%s";
}};
%s
"""


def agent(extra="", env=None, password=PASSWORD):
    """An unstarted Daemon for iothsm-agent over HTTPS, with the admin password set."""
    webui = os.path.join(pkitest.SOURCE_DIR, "webui", "agent")
    d = pkitest.Daemon("iothsm-agent", CONFIG % (webui, extra), env=env, scheme="https")
    if password is not None:
        pkitest.run([d.exe, "--config", d.config_path, "set-password"], input=password + "\n",
                    env=d.env)
    return d


class Client:
    """A browser-like client: cookie jar, CSRF header from the csrf cookie on unsafe methods."""

    def __init__(self, base):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ctx),
                                                  urllib.request.HTTPCookieProcessor(self.jar),
                                                  NoRedirect())
        self.csrf = True

    def cookie(self, name):
        for c in self.jar:
            if c.name == name:
                return c
        return None

    def request(self, method, path, body=None, headers=None, timeout=120):
        hdrs = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode() if not isinstance(body, bytes) else body
            hdrs.setdefault("Content-Type", "application/json")
        c = self.cookie("iothsm_csrf")
        if self.csrf and c and method not in ("GET", "HEAD"):
            hdrs.setdefault("X-CSRF-Token", c.value)
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=hdrs)
        try:
            with self.opener.open(req, timeout=timeout) as r:
                return pkitest.HttpResult(r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            return pkitest.HttpResult(e.code, e.headers, e.read())

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body if body is not None else {}, **kw)

    def delete(self, path, body=None, **kw):
        return self.request("DELETE", path, body, **kw)

    def login(self, password=PASSWORD):
        r = self.post("/api/login", {"password": password})
        assert r.status == 200, (r.status, r.body)
        return r


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def expect(r, status, code=None):
    assert r.status == status, f"expected {status}, got {r.status}: {r.body[:500]!r}"
    if code is not None:
        assert r.json()["error"]["code"] == code, r.body
    return r
