"""The appliance's audit durability through the real stack (relay + agent + pcscd/vpcd/piv-sim):
a signature leaves the appliance only once its audit entry is durable. The agent runs under
failsync.so (tests/link/failsync.c, LD_PRELOAD), which makes fdatasync/fsync of its WAL fail
with EIO while a trigger file exists. A first signature goes through and its link.sign entry
is in the agent's audit; with the trigger in place the next request gets the relay's error for
the appliance's refusal (500 internal), no signature, and the agent logs that the audit could
not be written; removing the trigger does not bring signing back (after a failed fsync the
page cache is unknown, so the failure is sticky): a further request is refused the same way."""
import base64
import os
import tempfile
import unittest

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

import linktest
import pkitest
import relaytest
from agentlib import set_up, wait_key
from pivsim import PcscEnv
from linktest import tbs_crl

SHIM = os.path.join(pkitest.BUILD_DIR, "tests", "link", "libfailsync.so")
REASON = "the appliance cannot write its audit log"


def sanitized():
    return os.environ.get("PKI_SANITIZE", "").upper() in ("ON", "1", "TRUE", "YES")


def shim_env(pcsc_env, trigger):
    """The agent's environment: piv-sim's pcscd, the shim preloaded, the trigger's path."""
    e = dict(pcsc_env, LD_PRELOAD=SHIM, IOTHSM_TEST_FAIL_SYNC=trigger)
    if sanitized():
        # A shared ASan runtime (gcc's libasan.so) must come first among the initial
        # libraries, and the preloaded shim comes before it. clang's static runtime (our
        # ASan build) does not check; the option keeps a gcc ASan build working too.
        opts = os.environ.get("ASAN_OPTIONS", "")
        e["ASAN_OPTIONS"] = (opts + ":" if opts else "") + "verify_asan_link_order=0"
    return e


class LinkAuditSync(unittest.TestCase):
    def test_signature_only_once_audit_is_durable(self):
        self.assertTrue(os.path.exists(SHIM), f"{SHIM} not built")
        work = tempfile.mkdtemp(prefix="link-audit-sync-")
        trigger = os.path.join(work, "fail-sync")
        state = relaytest.new_state_dir(self)
        with PcscEnv(n_keys=1) as env, linktest.relay(state) as r:
            rc = linktest.admin(r)
            ag = linktest.agent(env=shim_env(env.env, trigger))
            with ag:
                # The shim is really in the agent (else the test below proves nothing).
                with open(f"/proc/{ag.proc.pid}/maps") as f:
                    self.assertIn("libfailsync.so", f.read())
                ac = linktest.agent_client(ag)
                serial = env.serials[0]
                wait_key(ac, serial)
                set_up(ac, serial)
                ca = linktest.self_signed_ca(ac, serial, work)
                ca_pub_pem = linktest.pub_pem(ca)
                device = linktest.enrol_online(ac, rc)

                def sign():
                    tbs = tbs_crl(ca.subject)
                    return tbs, rc.post("/api/v1/appliances/signature", {
                        "appliance": device, "slot": f"{serial}/9c", "ca_id": "ca-test",
                        "algorithm": "ecdsa-with-SHA256",
                        "tbs": base64.b64encode(tbs).decode(), "public_key": ca_pub_pem})

                def link_signs():
                    audit = ac.get("/api/audit").json()
                    return [e for e in audit if e.get("event") == "link.sign"]

                # 1. A signature with a working disk: it verifies, and its entry is audited.
                before = len(link_signs())
                tbs, res = sign()
                self.assertEqual(res.status, 200, res.body)
                ca.public_key().verify(base64.b64decode(res.json()["signature"]), tbs,
                                       ec.ECDSA(hashes.SHA256()))
                signs = link_signs()
                self.assertEqual(len(signs), before + 1, signs)
                self.assertTrue(signs[0]["detail"].startswith("signed crl for CA ca-test"),
                                signs[0])

                # 2. The WAL's fdatasync fails: the relay's API answers the appliance's refusal
                # (PKI_SIGN_ERR_INTERNAL -> 500 "internal"), and no signature leaves.
                open(trigger, "w").close()
                _, res = sign()
                e = relaytest.assert_error(self, res, 500, "internal")
                self.assertNotIn("signature", res.json())
                linktest.wait_for(lambda: "agent.db-wal failed" in ag.output(),
                                  what="the agent's log of the failed fdatasync")
                linktest.wait_for(
                    lambda: "audit entry of a sign request could not be written" in ag.output(),
                    what="the agent's log of the unwritable audit")
                # The refusal came from the appliance over the link (the relay logs its reason).
                linktest.wait_for(lambda: REASON in r.output(), what="the relay's log of it")
                self.assertTrue(linktest.appliances(rc)[device]["online"])
                # The entry says what happened (committed, if not durable): the signature was
                # withheld, or, when the failed sync came before the card was asked, the request
                # was refused without signing. Which one depends on when the flusher's sync ran.
                signs = link_signs()
                self.assertEqual(len(signs), before + 2, signs)
                self.assertTrue(signs[0]["detail"].startswith(("withheld", "refused")), signs[0])
                self.assertIn("audit log", signs[0]["detail"])

                # 3. Sticky: with the disk "back", signing stays refused.
                os.unlink(trigger)
                _, res = sign()
                relaytest.assert_error(self, res, 500, "internal")
                self.assertNotIn("signature", res.json())
                linktest.wait_for(lambda: r.output().count(REASON) >= 2,
                                  what="the relay's log of the second refusal")
                # Refused before the card was asked: the entry says so.
                signs = link_signs()
                self.assertEqual(len(signs), before + 3, signs)
                self.assertTrue(signs[0]["detail"].startswith("refused"), signs[0])
                self.assertIn("audit log", signs[0]["detail"])
                print(f"refusal: {e['message']}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
