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
from agentlib import PASSWORD, PIN, Client, agent, keys, make_template, openssl, piv_tool, wait_key
from pivsim import PcscEnv

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
import browser  # noqa: E402  (tests/harness/browser)

STEPS = ["login-page", "keys", "key-set-up", "wizard-choose-slot", "wizard-generate-key",
         "wizard-bad-template", "wizard-paste-template", "wizard-root-done", "view-certificate", "wizard-csr",
         "half-provisioned-slot", "complete-provisioning", "intermediate-done",
         "clear-slot-confirm", "slot-cleared", "reload", "wizard-import-key",
         "wizard-import-bad-password", "wizard-import-template", "wizard-imported-root-done",
         "imported-slot-provisioned"]
P12_PASSWORD = "walk p12 pass"


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
    # the key the walk imports through the wizard: P-384 in a PKCS#12 file with its certificate
    imp_key, imp_crt, p12 = (os.path.join(work, n) for n in ("imp.key", "imp.crt", "imp.p12"))
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384", "-nodes",
            "-keyout", imp_key, "-out", imp_crt, "-days", "30", "-subj", "/CN=Backup of a CA key")
    openssl("pkcs12", "-export", "-inkey", imp_key, "-in", imp_crt, "-out", p12,
            "-passout", "pass:" + P12_PASSWORD)
    with PcscEnv(n_keys=1) as env:
        d = agent(env=env.env)
        with d:
            serial = env.serials[0]
            c = Client(d.url)
            c.login()
            wait_key(c, serial)
            browser.run_node(os.path.join(os.path.dirname(__file__), "walk.mjs"), env={
                "AGENT_URL": d.url, "AGENT_PASSWORD": PASSWORD, "SERIAL": str(serial),
                "TEMPLATE_FILE": os.path.join(work, "template.pem"), "WORK_DIR": work,
                "IMPORT_P12": p12, "IMPORT_P12_PASSWORD": P12_PASSWORD})
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
            # 9e holds the root made from the imported key: self-signed, the PKCS#12 file's public
            # key (as the wizard showed it), and the slot's key makes signatures it verifies
            want_pub = openssl("pkey", "-in", imp_key, "-pubout").stdout
            with open(os.path.join(work, "imported-9e.pub")) as g:
                assert g.read().strip() == want_pub.strip()
            root9e = piv_tool(env, env.readers[0], "-a", "read-certificate", "-s", "9e").stdout
            f = os.path.join(work, "slot-9e.pem")
            with open(f, "w") as out:
                out.write(root9e)
            with open(os.path.join(work, "root-9e.pem")) as g:
                assert g.read().strip() == root9e.strip()
            openssl("verify", "-check_ss_sig", "-CAfile", f, f)
            assert openssl("x509", "-in", f, "-noout", "-pubkey").stdout == want_pub
            assert "CN = Example HSM CA" in openssl("x509", "-in", f, "-noout", "-subject").stdout
            r = piv_tool(env, env.readers[0], "-a", "verify-pin", "-P", PIN, "-a", "test-signature",
                         "-s", "9e", "-i", f)
            assert "Successful ECDSA verification." in r.stdout + r.stderr, r.stdout + r.stderr
    print("agent browser walk: OK; screenshots in", out_dir)
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
