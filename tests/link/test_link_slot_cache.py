"""The appliance keeps each slot's certificate after reading it once (agent/yubikey
yk_worker_read_cert) instead of reading it from the card for every sign request. What an operator
relies on: the veto always judges by the slot as it is now. After the slot is given a new key and
a new CA certificate through the agent, a request naming the old CA is refused and one naming the
new CA is signed with the new key; after "Clear Slot" nothing is signed. A stale cached
certificate would let the first through (signed with the new key, refused only later by the
signature check, 502/500) and would not refuse the last with policy_refused."""
import base64
import tempfile
import unittest

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

import linktest
import relaytest
from linktest import pub_pem, tbs_crl
from agentlib import PIN, expect, set_up, wait_key
from pivsim import PcscEnv


class LinkSlotCache(unittest.TestCase):
    def test_veto_follows_the_slot(self):
        work = tempfile.mkdtemp(prefix="link-slot-cache-")
        state = relaytest.new_state_dir(self)
        with PcscEnv(n_keys=1) as env, linktest.relay(state) as r:
            rc = linktest.admin(r)
            ag = linktest.agentlib.agent(linktest.AGENT_LINK, env=env.env)
            with ag:
                ac = linktest.agent_client(ag)
                serial = env.serials[0]
                wait_key(ac, serial)
                set_up(ac, serial)

                def provision(cn):
                    return linktest.self_signed_ca(ac, serial, work, cn=cn)

                first = provision("Cache Test CA One")
                device = linktest.enrol_online(ac, rc)

                def sign(tbs, ca):
                    return rc.post("/api/v1/appliances/signature", {
                        "appliance": device, "slot": f"{serial}/9c",
                        "algorithm": "ecdsa-with-SHA256",
                        "tbs": base64.b64encode(tbs).decode(), "public_key": pub_pem(ca)})

                def signed_by(res, tbs, ca):
                    self.assertEqual(res.status, 200, res.body)
                    ca.public_key().verify(base64.b64decode(res.json()["signature"]), tbs,
                                           ec.ECDSA(hashes.SHA256()))

                # Twice: the second answer comes from the kept certificate.
                for _ in range(2):
                    tbs = tbs_crl(first.subject)
                    signed_by(sign(tbs, first), tbs, first)

                # A new key and a new CA in the same slot, made through the agent.
                second = provision("Cache Test CA Two")
                self.assertNotEqual(first.subject, second.subject)
                # The old CA's name is refused by the veto (policy), not signed with the new key.
                relaytest.assert_error(self, sign(tbs_crl(first.subject), second), 403,
                                       "policy_refused")
                tbs = tbs_crl(second.subject)
                signed_by(sign(tbs, second), tbs, second)

                # Clear Slot: the certificate is gone, so nothing is signed any more.
                expect(ac.delete(f"/api/keys/{serial}/slots/9c", {"pin": PIN, "confirm": "9c"}),
                       200)
                relaytest.assert_error(self, sign(tbs_crl(second.subject), second), 403,
                                       "policy_refused")
                audit = ac.get("/api/audit").json()
                refused = [e for e in audit if e.get("event") == "link.sign"
                           and "holds no CA certificate" in (e.get("detail") or "")]
                self.assertTrue(refused, audit[:5])


if __name__ == "__main__":
    unittest.main()
