"""The web console in a real browser, from a fresh relay, as a new user walks the guides.

Starts pki-relay (HTTPS, fresh state), takes the one-time set-up link from its log, and runs
walk.mjs (Debian's chromium through playwright-core), which fails on any console error, failed
request or unexpected HTTP error and saves a screenshot of every step under
$PKI_TEST_ARTIFACTS/console/ (default: <build>/test-artifacts/console/). Afterwards this script
checks, through the API and with openssl, what the browser did.
"""
import json
import os
import re
import sys

import pkitest
from pkitest import Daemon, http

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
import browser  # noqa: E402  (tests/harness/browser)

CONFIG = """
state_dir = "{state_dir}"
log_level = "info"
http = {{ listen = "127.0.0.1"; port = {port}; }};
"""


def main():
    artifacts = os.environ.get("PKI_TEST_ARTIFACTS") or os.path.join(pkitest.BUILD_DIR, "test-artifacts")
    os.environ["PKI_TEST_ARTIFACTS"] = artifacts
    out_dir = os.path.join(artifacts, "console")
    os.makedirs(out_dir, exist_ok=True)
    for f in os.listdir(out_dir):
        if f.endswith(".png") or f.endswith(".json"):
            os.remove(os.path.join(out_dir, f))
    with Daemon("pki-relay", CONFIG, scheme="https") as relay:
        m = re.search(r"open (https://\S+/setup#token=\S+)", relay.output())
        assert m, "no set-up link in the relay's log:\n" + relay.output()
        setup_url = m.group(1)
        result_path = os.path.join(out_dir, "result.json")
        browser.run_node(os.path.join(os.path.dirname(__file__), "walk.mjs"), env={
            "RELAY_URL": relay.url, "SETUP_URL": setup_url, "RESULT_JSON": result_path,
        })
        with open(result_path) as f:
            result = json.load(f)
        check_after(relay, result, out_dir)
    print("console browser walk: OK; screenshots in", out_dir)


def check_after(relay, result, out_dir):
    """What the browser did is real: the API shows it, with the token the browser was given."""
    token = result["api_token"]
    assert token.startswith("pkr_"), token
    r = http("GET", relay.url + "/api/v1/me", headers={"Authorization": "Bearer " + token})
    assert r.status == 200 and r.json()["user"]["name"] == "admin", (r.status, r.body)
    r = http("GET", relay.url + "/api/v1/audit?limit=200", headers={"Authorization": "Bearer " + token})
    actions = [e["action"] for e in r.json()["entries"]]
    for want in ("user.setup", "session.login", "session.login_failed", "token.create", "token.delete", "session.logout"):
        assert want in actions, (want, actions)
    shots = sorted(f for f in os.listdir(out_dir) if f.endswith(".png"))
    assert len(shots) >= len(result["steps"]), (shots, result["steps"])


if __name__ == "__main__":
    main()
