"""Helpers for pki-relay integration tests: a configured relay, and an API client that keeps
the session cookie and echoes the CSRF token like the console's scripts do."""
import json
import os
import shutil
import subprocess
import tempfile

from pkitest import Daemon, http, program

BASE_CONFIG = (
    'log_level = "debug";\n'
    'state_dir = "{state_dir}";\n'
    'http = {{ listen = "127.0.0.1"; port = {port}; }};\n'
)


def relay(extra="", env=None, state_dir=None):
    """A pki-relay Daemon over HTTPS (self-signed certificate made on first start)."""
    d = Daemon("pki-relay", BASE_CONFIG + extra, env=env, scheme="https")
    if state_dir:  # reuse another run's state (restart tests)
        os.rmdir(d.state_dir)
        d.state_dir = state_dir
        with open(d.config_path, "w") as f:
            f.write((BASE_CONFIG + extra).format(port=d.port, state_dir=state_dir, dir=d.dir))
    return d


def new_state_dir(tc):
    """A state directory that outlives one Daemon (restart tests); removed after the test."""
    path = tempfile.mkdtemp(prefix="relay-state-")
    os.chmod(path, 0o700)
    tc.addCleanup(shutil.rmtree, path, True)
    return path


def relay_cmd(d, *args, input=None, env=None):
    """Runs `pki-relay --config <d's config> args…` (a subcommand on the same state)."""
    return subprocess.run([program("pki-relay"), "--config", d.config_path, *args], input=input,
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, **(env or {})))


def add_user(d, name, password, admin=False):
    args = ["user", "add"] + (["--admin"] if admin else []) + [name]
    r = relay_cmd(d, *args, input=password + "\n")
    assert r.returncode == 0, r.stderr
    return r


def set_cookies(result):
    return result.headers.get_all("Set-Cookie") or []


class Client:
    """An API client: session cookie + CSRF header, or a bearer token."""

    def __init__(self, d, token=None):
        self.d = d
        self.cookies = {}
        self.csrf = None
        self.token = token

    def request(self, method, path, body=None, headers=None, csrf=True, raw=None):
        hdrs = dict(headers or {})
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.token:
            hdrs["Authorization"] = f"Bearer {self.token}"
        if csrf and self.csrf and method not in ("GET", "HEAD"):
            hdrs["X-CSRF-Token"] = self.csrf
        data = raw if raw is not None else body
        r = http(method, self.d.url + path, body=data, headers=hdrs)
        for c in set_cookies(r):
            name, _, rest = c.partition("=")
            value = rest.split(";", 1)[0]
            if "Max-Age=0" in c:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return r

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body if body is not None else {}, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body=body if body is not None else {}, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def login(self, name, password):
        r = self.post("/api/v1/session", {"name": name, "password": password})
        if r.status == 200:
            self.csrf = r.json()["csrf_token"]
        return r


def logged_in(d, name, password):
    c = Client(d)
    r = c.login(name, password)
    assert r.status == 200, (r.status, r.body)
    return c


def routes():
    """The relay's route table, from `pki-relay routes`."""
    out = subprocess.run([program("pki-relay"), "--config", "/dev/null", "routes"],
                         capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def assert_error(tc, r, status, code=None):
    tc.assertEqual(r.status, status, r.body)
    tc.assertTrue(r.headers.get("Content-Type", "").startswith("application/json"), r.headers)
    e = r.json()["error"]
    tc.assertIsInstance(e["message"], str)
    tc.assertTrue(e["message"])
    if code:
        tc.assertEqual(e["code"], code, r.body)
    return e


def openssl(*args, input=None, check=True):
    r = subprocess.run(["openssl", *args], input=input, capture_output=True,
                       text=isinstance(input, str) or input is None, timeout=60)
    if check and r.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}")
    return r


def make_csr(workdir, name, subject, sans=(), key="ec"):
    """A key and CSR made by openssl; returns (key_path, csr_pem)."""
    keyp = os.path.join(workdir, f"{name}.key")
    csrp = os.path.join(workdir, f"{name}.csr")
    args = ["req", "-new", "-nodes", "-keyout", keyp, "-out", csrp, "-subj", subject]
    if key == "ec":
        args += ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    elif key.startswith("rsa"):
        args += ["-newkey", key]
    elif key == "ed25519":
        args += ["-newkey", "ed25519"]
    if sans:
        args += ["-addext", "subjectAltName=" + ",".join(sans)]
    openssl(*args)
    with open(csrp) as f:
        return keyp, f.read()


def write(workdir, name, text):
    path = os.path.join(workdir, name)
    with open(path, "w" if isinstance(text, str) else "wb") as f:
        f.write(text)
    return path
