"""The local UI's front door: HTTPS with a self-signed certificate made on first start, the
admin password set from stdin, login with secure cookies, CSRF, throttling, password change,
and nothing but the login page and /healthz reachable without a session."""
import os
import ssl

import pkitest
from agentlib import PASSWORD, Client, agent, expect


def check_tls_certificate(d):
    pem = ssl.get_server_certificate(("127.0.0.1", d.port))
    r = pkitest.run(["openssl", "x509", "-noout", "-subject", "-ext", "keyUsage"], input=pem, check=False)
    assert "iothsm-agent local UI" in r.stdout, r.stdout
    key = os.path.join(d.state_dir, "ui-tls.key")
    assert os.stat(key).st_mode & 0o077 == 0, "the UI's TLS key must be 0600"
    return pem


def check_public_surface(d):
    c = Client(d.url)
    expect(c.get("/healthz"), 200)
    r = expect(c.get("/login.html"), 200)
    assert b"login-form" in r.body
    expect(c.get("/login.js"), 200)
    expect(c.get("/style.css"), 200)
    # Everything else needs a session: pages redirect to the login page, the API answers 401.
    for page in ("/", "/index.html", "/app.js"):
        r = c.get(page)
        assert r.status == 303 and r.headers["Location"] == "/login.html", (page, r.status)
        assert b"<html" not in r.body
    for path in ("/api/keys", "/api/session", "/api/audit"):
        expect(c.get(path), 401, "unauthenticated")
    expect(c.post("/api/logout"), 401)
    expect(c.post("/api/password", {"current": PASSWORD, "new": "x" * 12}), 401)


def check_login(d):
    c = Client(d.url)
    expect(c.post("/api/login", {"password": "wrong password"}), 401, "bad_password")
    expect(c.post("/api/login", b"not json"), 400, "bad_json")
    expect(c.post("/api/login", {"pass": PASSWORD}), 400, "bad_request")
    r = c.login()
    cookies = r.headers.get_all("Set-Cookie")
    sess = [x for x in cookies if x.startswith("iothsm_session=")][0]
    for flag in ("HttpOnly", "Secure", "SameSite=Strict"):
        assert flag in sess, sess
    csrf = [x for x in cookies if x.startswith("iothsm_csrf=")][0]
    assert "Secure" in csrf and "SameSite=Strict" in csrf and "HttpOnly" not in csrf
    assert r.json()["csrf"] == c.cookie("iothsm_csrf").value
    expect(c.get("/api/session"), 200)
    expect(c.get("/"), 200)
    expect(c.get("/app.js"), 200)
    # Unsafe methods without the CSRF header are refused even with a valid session.
    c.csrf = False
    expect(c.post("/api/keys/reload"), 403, "csrf")
    expect(c.post("/api/keys/reload", headers={"X-CSRF-Token": "forged"}), 403, "csrf")
    c.csrf = True
    # Logging out ends the session on the server, not only in the browser.
    token = c.cookie("iothsm_session").value
    expect(c.post("/api/logout"), 200)
    replay = Client(d.url)
    r = replay.get("/api/session", headers={"Cookie": f"iothsm_session={token}"})
    expect(r, 401)


def check_password_change(d):
    a, b = Client(d.url), Client(d.url)
    a.login()
    b.login()
    expect(a.post("/api/password", {"current": "wrong", "new": "another long password"}), 401)
    expect(a.post("/api/password", {"current": PASSWORD, "new": "short"}), 400, "weak_password")
    expect(a.post("/api/password", {"current": PASSWORD, "new": "another long password"}), 200)
    expect(a.get("/api/session"), 200)          # the changing session stays
    expect(b.get("/api/session"), 401)          # every other session ends
    expect(Client(d.url).post("/api/login", {"password": PASSWORD}), 401)
    Client(d.url).login("another long password")
    audit = [e["event"] for e in a.get("/api/audit").json()]
    assert "password_changed" in audit and "login" in audit and "login_failed" in audit


def check_throttle(d):
    c = Client(d.url)
    codes = [c.post("/api/login", {"password": f"wrong {i}"}).status for i in range(7)]
    assert 429 in codes, codes
    r = c.post("/api/login", {"password": "another long password"})
    expect(r, 429, "throttled")
    assert int(r.headers["Retry-After"]) > 0


def check_set_password_cli(d):
    exe = d.exe
    r = pkitest.run([exe, "--config", d.config_path, "set-password"], input="short\n", check=False)
    assert r.returncode != 0 and "characters" in r.stderr
    r = pkitest.run([exe, "--config", d.config_path, "set-password"], input="", check=False)
    assert r.returncode != 0


def main():
    d = agent()
    check_set_password_cli(d)
    with d:
        pem = check_tls_certificate(d)
        check_public_surface(d)
        check_login(d)
        check_password_change(d)
        check_throttle(d)
        assert PASSWORD not in d.output()
        # The certificate made on first start is kept across restarts.
        assert d.stop() == 0
        d.log.close()
        d.start()
        assert ssl.get_server_certificate(("127.0.0.1", d.port)) == pem
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
