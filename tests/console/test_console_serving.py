"""pki-relay serves the web console: files, the app's routes, security headers, confinement,
and the http.console_root key; API and protocol paths keep their JSON 404."""
import os
import tempfile

import pkitest
from pkitest import Daemon, http

CONFIG = """
state_dir = "{state_dir}"
http = {{ listen = "127.0.0.1"; port = {port}; tls = false; }};
"""
HTML = {"Accept": "text/html,application/xhtml+xml"}


def main():
    with Daemon("pki-relay", CONFIG) as relay:
        u = relay.url
        for path in ("/", "/console/", "/console", "/cas", "/templates/12", "/claim", "/setup"):
            r = http("GET", u + path, headers=HTML)
            assert r.status == 200, (path, r.status, r.body)
            assert r.headers["Content-Type"].startswith("text/html"), (path, r.headers["Content-Type"])
            assert b'src="/console/js/app.js"' in r.body, path
            csp = r.headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, csp
            assert r.headers["X-Frame-Options"] == "DENY"
        r = http("GET", u + "/console/js/app.js")
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/javascript"), r.status
        r = http("GET", u + "/console/style.css")
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/css")
        # a missing file is a 404, never the index; app routes only for browsers asking for HTML
        for path in ("/console/js/nope.js", "/cas"):
            r = http("GET", u + path)
            assert r.status == 404 and r.json()["error"]["code"] == "not_found", (path, r.status, r.body)
        # nothing outside the folder, whatever the spelling
        for path in ("/console/../../relay/main.c", "/..%2f..%2fCMakeLists.txt", "/%2e%2e/README.md"):
            r = http("GET", u + path, headers=HTML)
            assert b"#include" not in r.body and b"cmake" not in r.body.lower() and b"pkiaas" not in r.body, path
        # the API and protocols keep their own answers
        r = http("GET", u + "/api/v1/nope", headers=HTML)
        assert r.status == 404 and r.json()["error"]["code"] == "not_found"
        r = http("POST", u + "/cas", body=b"x", headers=HTML)
        assert r.status == 404 and r.json()["error"]["code"] == "not_found"
        assert "web console served from" in relay.output()

    # http.console_root points the relay at another folder
    other = tempfile.mkdtemp(prefix="console-root-")
    with open(os.path.join(other, "index.html"), "w") as f:
        f.write("<!doctype html><title>custom console</title>")
    cfg = CONFIG.replace("tls = false;", f'tls = false; console_root = "{other}";')
    with Daemon("pki-relay", cfg) as relay:
        r = http("GET", relay.url + "/anything", headers=HTML)
        assert r.status == 200 and b"custom console" in r.body, r.body
    print("console serving: OK")


if __name__ == "__main__":
    main()
