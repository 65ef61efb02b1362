"""The wizard's confirm step in a real browser (Debian's chromium through playwright-core): a
relay on loopback makes an HSM root CA; the browser pastes its provisioning certificate, sees the
relay's URL, CA and fingerprint, confirms, and the slot is provisioned after the relay accepted
the offer; then "Unlock for signing" (a wrong PIN refused) and "Lock" on the key page.
Afterwards: the card holds the certificate the browser showed (yubico-piv-tool), the relay shows
it as the CA's offer, and a self-signed check with openssl passes. Screenshots under
$PKI_TEST_ARTIFACTS/agent-relay/."""
import json
import os
import shutil
import sys
import tempfile

import pkitest
from agentlib import PASSWORD, Client, keys, openssl, piv_tool, wait_key
from pivsim import PcscEnv

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "link"))
import browser  # noqa: E402  (tests/harness/browser)
import linktest  # noqa: E402
import provcert  # noqa: E402
import relaytest  # noqa: E402

STEPS = ["set-up", "paste-relay-template", "confirm-relay", "enrolled-and-provisioned",
         "unlock-wrong-pin", "unlocked", "locked"]


def main():
    artifacts = os.environ.get("PKI_TEST_ARTIFACTS") or os.path.join(pkitest.BUILD_DIR, "test-artifacts")
    os.environ["PKI_TEST_ARTIFACTS"] = artifacts
    out_dir = os.path.join(artifacts, "agent-relay")
    os.makedirs(out_dir, exist_ok=True)
    for f in os.listdir(out_dir):
        if f.endswith(".png"):
            os.remove(os.path.join(out_dir, f))
    work = tempfile.mkdtemp(prefix="agent-walk-relay-")
    state = tempfile.mkdtemp(prefix="relay-state-")
    os.chmod(state, 0o700)
    with PcscEnv(n_keys=1) as env, linktest.relay(state) as r:
        rc = linktest.admin(r)
        res = rc.post("/api/v1/cas", {"name": "HSM Root", "type": "root", "key_type": "HSM",
                                      "subject": {"CN": "Browser HSM Root", "O": "Example"}})
        assert res.status == 201, res.body
        ca = res.json()
        template = ca["provisioning_certificate"]
        fields = provcert.parse(template)
        with open(os.path.join(work, "template.pem"), "w") as f:
            f.write(template)
        with linktest.agent(env=env.env) as d:
            serial = env.serials[0]
            c = Client(d.url)
            c.login()
            wait_key(c, serial)
            browser.run_node(os.path.join(os.path.dirname(__file__), "walk_relay.mjs"), env={
                "AGENT_URL": d.url, "AGENT_PASSWORD": PASSWORD, "SERIAL": str(serial),
                "TEMPLATE_FILE": os.path.join(work, "template.pem"), "WORK_DIR": work,
                "FINGERPRINT": fields["fingerprint"].hex(), "LINK_URL": fields["link_url"]})
            with open(os.path.join(work, "steps.json")) as f:
                assert json.load(f) == STEPS
            shots = sorted(f for f in os.listdir(out_dir) if f.endswith(".png"))
            assert len(shots) == len(STEPS), shots
            with open(os.path.join(work, "root-9c.pem")) as f:
                shown = f.read().strip()
            on_card = piv_tool(env, env.readers[0], "-a", "read-certificate", "-s", "9c").stdout
            assert on_card.strip() == shown, (on_card, shown)
            path = os.path.join(work, "slot-9c.pem")
            with open(path, "w") as f:
                f.write(on_card)
            openssl("verify", "-x509_strict", "-CAfile", path, path)
            offers = rc.get(f"/api/v1/cas/{ca['id']}").json()["hsm"]["offers"]
            assert [o["certificate"].strip() for o in offers] == [shown], offers
            assert keys(c)[serial]["signing_unlocked"] is False
    shutil.rmtree(state, ignore_errors=True)
    print("agent relay browser walk: OK; screenshots in", out_dir)
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
