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


# ---- YubiKey helpers -------------------------------------------------------------------------

import subprocess
import tempfile
import time

PIN, PUK = "246810", "13579135"


def wait_for(fn, timeout=20, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def keys(c):
    r = c.get("/api/keys")
    assert r.status == 200, r.body
    return {k["serial"]: k for k in r.json()["keys"]}


def wait_key(c, serial, present=True, timeout=20):
    return wait_for(lambda: (serial in keys(c)) == present, timeout,
                    f"key {serial} {'present' if present else 'absent'}")


def set_up(c, serial, pin=PIN, puk=PUK):
    r = c.post(f"/api/keys/{serial}/setup", {"pin": "123456", "new_pin": pin, "puk": "12345678",
                                             "new_puk": puk})
    assert r.status == 200, r.body
    assert keys(c)[serial]["set_up"] is True


def slot_of(c, serial, slot):
    return [s for s in keys(c)[serial]["slots"] if s["slot"] == slot][0]


def piv_tool(env, reader, *args, check=True, input=None):
    r = subprocess.run(["yubico-piv-tool", "-r", reader, *args], env={**os.environ, **env.env},
                       capture_output=True, text=True, timeout=120, input=input)
    if check and r.returncode != 0:
        raise AssertionError(f"yubico-piv-tool {args}: {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def openssl(*args, input=None, check=True):
    r = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60, input=input)
    if check and r.returncode != 0:
        raise AssertionError(f"openssl {args}: {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def tmpfile(text, suffix=".pem", dir=None):
    f = tempfile.NamedTemporaryFile("w", suffix=suffix, delete=False, dir=dir)
    f.write(text)
    f.close()
    return f.name


def make_template(workdir, cn="Example HSM CA", days=3650, pathlen=1, ca=True):
    """An HSM provisioning certificate as the relay would issue it: a CA certificate whose
    subject, extensions and validity are the template (its key is thrown away)."""
    key = os.path.join(workdir, "tpl.key")
    crt = os.path.join(workdir, "tpl.crt")
    bc = f"basicConstraints=critical,CA:TRUE,pathlen:{pathlen}" if ca else "basicConstraints=critical,CA:FALSE"
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", crt, "-days", str(days), "-subj", f"/C=DE/O=Example Org/CN={cn}",
            "-addext", bc, "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-addext", "certificatePolicies=1.3.6.1.4.1.99999.1")
    with open(crt) as f:
        return f.read()
