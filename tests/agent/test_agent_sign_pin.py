"""Link signatures for slots whose PIN policy is "once" or "always" (pki-relay -> iothsm-agent ->
piv-sim): without the PIN the relay's caller gets pin_required and nothing is signed; a wrong PIN
given to "Unlock for signing" is refused with the retries left and not kept; after unlocking,
both slots sign (verified with python3-cryptography); the PIN never appears in the agent's log,
its audit log or its API answers; "Lock", pulling the YubiKey out, and restarting the agent each
forget the PIN (pin_required again)."""
import base64
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.environ.get("PKI_SOURCE_DIR", "."), "tests", "link"))

import linktest  # noqa: E402
from linktest import tbs_crl  # noqa: E402
import relaytest  # noqa: E402
from agentlib import PIN, expect, keys, set_up, wait_key  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from pivsim import PcscEnv  # noqa: E402


class SignPin(unittest.TestCase):
    def test_unlock_for_signing(self):
        work = tempfile.mkdtemp(prefix="agent-signpin-")
        state = relaytest.new_state_dir(self)
        with PcscEnv(n_keys=1) as env, linktest.relay(state) as r:
            rc = linktest.admin(r)
            ag = linktest.agent(env=env.env)
            with ag:
                ac = linktest.agent_client(ag)
                serial = env.serials[0]
                wait_key(ac, serial)
                set_up(ac, serial)
                cas = {}
                for slot, policy in (("9c", "once"), ("9d", "always")):
                    cas[slot] = linktest.self_signed_ca(ac, serial, work, slot=slot,
                                                        pin_policy=policy)
                device = linktest.enrol_online(ac, rc)
                # Re-reading the key selects the PIV applet again: no PIN verification lingers
                # from provisioning.
                expect(ac.post("/api/keys/reload"), 200)

                def sign(slot):
                    ca = cas[slot]
                    pub = linktest.pub_pem(ca)
                    tbs = tbs_crl(ca.subject)
                    res = rc.post("/api/v1/appliances/signature", {
                        "appliance": device, "slot": f"{serial}/{slot}",
                        "algorithm": "ecdsa-with-SHA256", "public_key": pub,
                        "tbs": base64.b64encode(tbs).decode()})
                    if res.status == 200:
                        ca.public_key().verify(base64.b64decode(res.json()["signature"]), tbs,
                                               ec.ECDSA(hashes.SHA256()))
                    return res

                def refused(slot):
                    res = sign(slot)
                    self.assertEqual(res.status, 423, res.body)
                    self.assertEqual(res.json()["error"]["code"], "pin_required", res.body)
                    return res

                def unlocked():
                    return keys(ac)[serial]["signing_unlocked"]

                self.assertFalse(unlocked())
                for slot in ("9c", "9d"):
                    refused(slot)
                # A wrong PIN is refused with the retries left and not kept.
                res = expect(ac.post(f"/api/keys/{serial}/unlock", {"pin": "999999"}), 403,
                             "wrong_pin")
                self.assertEqual(res.json()["error"]["retries"], 2)
                self.assertFalse(unlocked())
                refused("9c")
                self.assertEqual(keys(ac)[serial]["pin_retries"], 2)

                expect(ac.post(f"/api/keys/{serial}/unlock", {"pin": PIN}), 200)
                self.assertTrue(unlocked())
                for _ in range(3):  # "always": the PIN is verified for every signature
                    for slot in ("9c", "9d"):
                        self.assertEqual(sign(slot).status, 200)
                # A correct PIN resets the counter; the kept PIN burnt no retry.
                self.assertEqual(keys(ac)[serial]["pin_retries"], 3)

                expect(ac.post(f"/api/keys/{serial}/lock"), 200)
                self.assertFalse(unlocked())
                refused("9d")

                # Pulling the key out forgets the PIN.
                expect(ac.post(f"/api/keys/{serial}/unlock", {"pin": PIN}), 200)
                self.assertEqual(sign("9c").status, 200)
                env.remove(0)
                wait_key(ac, serial, present=False)
                env.insert(0)
                wait_key(ac, serial)
                self.assertFalse(unlocked())
                linktest.wait_for(lambda: sign("9c").status == 423, what="pin_required again")

                # So does a restart.
                expect(ac.post(f"/api/keys/{serial}/unlock", {"pin": PIN}), 200)
                self.assertEqual(sign("9d").status, 200)
                audit = ac.get("/api/audit").body.decode()
                self.assertIn("signing_unlocked", audit)
                self.assertNotIn(PIN, audit)
                self.assertEqual(ag.stop(), 0)
                ag.log.close()
                ag.start()
                ac = linktest.agent_client(ag)
                wait_key(ac, serial)
                linktest.wait_for(lambda: linktest.appliances(rc).get(device, {}).get("online"),
                                  what="appliance back online")
                self.assertFalse(unlocked())
                refused("9c")
                self.assertNotIn(PIN, ag.output())


if __name__ == "__main__":
    unittest.main()
