"""The appliance's local UI in a real browser (Debian's chromium through playwright-core),
walking the provisioning wizard end to end on a virtual YubiKey (pcscd + vpcd + piv-sim).

walk.mjs fails on any console error, failed request or unexpected HTTP error, and saves a
screenshot of each step under $PKI_TEST_ARTIFACTS/agent/ (default <build>/test-artifacts/agent/).
Afterwards this script checks on the card, with yubico-piv-tool and openssl, what the browser did."""
import json
import os
import sys
import tempfile

import pkitest
from agentlib import PASSWORD, Client, agent, keys, make_template, openssl, piv_tool, wait_key
from pivsim import PcscEnv

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
import browser  # noqa: E402  (tests/harness/browser)

STEPS = ["login-page", "keys", "key-set-up", "wizard-choose-slot", "wizard-generate-key",
         "wizard-bad-template", "wizard-paste-template", "wizard-root-done", "view-certificate", "wizard-csr",
         "half-provisioned-slot", "complete-provisioning", "intermediate-done",
         "clear-slot-confirm", "slot-cleared", "reload"]


def main():
    artifacts = os.environ.get("PKI_TEST_ARTIFACTS") or os.path.join(pkitest.BUILD_DIR, "test-artifacts")
    os.environ["PKI_TEST_ARTIFACTS"] = artifacts
    out_dir = os.path.join(artifacts, "agent")
    os.makedirs(out_dir, exist_ok=True)
    for f in os.listdir(out_dir):
        if f.endswith(".png"):
            os.remove(os.path.join(out_dir, f))
    work = tempfile.mkdtemp(prefix="agent-walk-")
    with open(os.path.join(work, "template.pem"), "w") as f:
        f.write(make_template(work))
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", os.path.join(work, "root.key"),
            "-out", os.path.join(work, "root.crt"), "-days", "7300", "-subj", "/O=Example Org/CN=Offline Root",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    with PcscEnv(n_keys=1) as env:
        d = agent(env=env.env)
        with d:
            serial = env.serials[0]
            c = Client(d.url)
            c.login()
            wait_key(c, serial)
            browser.run_node(os.path.join(os.path.dirname(__file__), "walk.mjs"), env={
                "AGENT_URL": d.url, "AGENT_PASSWORD": PASSWORD, "SERIAL": str(serial),
                "TEMPLATE_FILE": os.path.join(work, "template.pem"), "WORK_DIR": work})
            with open(os.path.join(work, "steps.json")) as f:
                assert json.load(f) == STEPS
            shots = sorted(f for f in os.listdir(out_dir) if f.endswith(".png"))
            assert len(shots) == len(STEPS), shots
            # What the browser did is on the card: 9d holds the intermediate signed by the
            # offline root, 9c was cleared.
            inter = piv_tool(env, env.readers[0], "-a", "read-certificate", "-s", "9d").stdout
            f = os.path.join(work, "slot-9d.pem")
            with open(f, "w") as out:
                out.write(inter)
            openssl("verify", "-CAfile", os.path.join(work, "root.crt"), f)
            with open(os.path.join(work, "inter.crt")) as g:
                assert g.read().strip() == inter.strip()
            r = piv_tool(env, env.readers[0], "-a", "read-certificate", "-s", "9c", check=False)
            assert "BEGIN CERTIFICATE" not in r.stdout
            assert keys(c)[serial]["set_up"] is True
    print("agent browser walk: OK; screenshots in", out_dir)
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
