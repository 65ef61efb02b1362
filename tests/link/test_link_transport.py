"""The link between pki-relay and iothsm-agent on loopback: enrolment with a one-time token
(and every way it is refused), the appliance shown online with its last-seen time, heartbeats,
the relay restarted under a connected agent (the agent is back within 5 s of the relay being
up), and the relay noticing an agent that vanished."""
import hashlib
import json
import os
import signal
import ssl
import time
import unittest

import linktest
import relaytest


class LinkTransport(unittest.TestCase):
    def test_enrol_heartbeat_restart(self):
        state = relaytest.new_state_dir(self)
        r1 = linktest.relay(state)
        with r1:
            rc = linktest.admin(r1)
            tok = linktest.token(rc)
            self.assertTrue(tok["link_url"].startswith("wss://"), tok)
            # The fingerprint is the SHA-256 of the certificate the public endpoint serves.
            pem = relaytest.Client(r1).get("/api/v1/link/certificate")
            self.assertEqual(pem.status, 200)
            der = ssl.PEM_cert_to_DER_cert(pem.body.decode())
            self.assertEqual(hashlib.sha256(der).hexdigest(), tok["relay_fingerprint"])
            # Non-admins and anonymous callers get no tokens.
            self.assertEqual(relaytest.Client(r1).post("/api/v1/appliances/enrolment-tokens",
                                                       {}).status, 401)

            with linktest.agent() as ag:
                ac = linktest.agent_client(ag)
                self.assertEqual(linktest.link_state(ac)["state"], "unconfigured")

                # A fingerprint that is not the relay's: refused before anything is sent.
                bad = dict(tok, relay_fingerprint="00" * 32)
                r = linktest.enrol(ac, bad)
                self.assertEqual(r.status, 400, r.body)
                self.assertIn("fingerprint", r.json()["error"]["message"])
                # A token the relay never issued: the relay refuses, the agent says so.
                r = linktest.enrol(ac, dict(tok, token="enrol_" + "A" * 43))
                self.assertEqual(r.status, 400, r.body)
                self.assertIn("unknown enrolment token", r.json()["error"]["message"])
                self.assertEqual(linktest.appliances(rc), {})
                # A refused token is not tried again and again.
                self.assertEqual(linktest.link_state(ac)["state"], "not_enrolled")
                time.sleep(3)
                self.assertEqual(r1.output().count("enrolment of device:"), 1, r1.output())

                r = linktest.enrol(ac, tok)
                self.assertEqual(r.status, 200, r.body)
                device = r.json()["device"]
                self.assertTrue(device.startswith("device:"), device)
                st = linktest.wait_for(lambda: linktest.link_state(ac)["state"] == "online"
                                       and linktest.link_state(ac), what="agent online")
                self.assertEqual(st["relay_fingerprint"], tok["relay_fingerprint"])
                apps = linktest.wait_for(lambda: linktest.appliances(rc).get(device, {})
                                         .get("online") and linktest.appliances(rc),
                                         what="relay shows the appliance online")
                self.assertIsInstance(apps[device]["keys"], list)

                # The token was one-time: a second enrolment with it is refused.
                r = linktest.enrol(ac, tok)
                self.assertEqual(r.status, 400, r.body)
                self.assertIn("already used", r.json()["error"]["message"])
                # ...and that failed attempt replaced the agent's identity with an unenrolled
                # one, so enrol again with a fresh token.
                tok2 = linktest.token(rc)
                r = linktest.enrol(ac, tok2)
                self.assertEqual(r.status, 200, r.body)
                device = r.json()["device"]
                linktest.wait_for(lambda: linktest.appliances(rc).get(device, {}).get("online"),
                                  what="re-enrolled appliance online")

                # Heartbeats move last_seen forward (ping every 2 s in this configuration).
                seen1 = linktest.appliances(rc)[device]["last_seen"]
                linktest.wait_for(lambda: linktest.appliances(rc)[device]["last_seen"] != seen1,
                                  timeout=10, what="last_seen to advance")

            # The agent stopped cleanly: the relay shows it offline at once (socket closed).
            linktest.wait_for(lambda: not linktest.appliances(rc)[device]["online"],
                              what="appliance offline after the agent stopped")

            # Relay restart under a connected agent.
            with linktest.agent() as ag2:
                ac2 = linktest.agent_client(ag2)
                tok3 = linktest.token(rc)
                self.assertEqual(linktest.enrol(ac2, tok3).status, 200)
                linktest.wait_for(lambda: linktest.link_state(ac2)["state"] == "online",
                                  what="second agent online")
                port = r1.port
                self.assertEqual(r1.stop(), 0)
                linktest.wait_for(lambda: linktest.link_state(ac2)["state"] != "online",
                                  what="agent notices the relay is gone")
                time.sleep(3)  # let the back-off grow
                r2 = linktest.relay(state, port=port)
                with r2:
                    up = time.monotonic()
                    linktest.wait_for(lambda: linktest.link_state(ac2)["state"] == "online",
                                      timeout=10, what="agent back after the relay restart")
                    back = time.monotonic() - up
                    print(f"agent back {back:.2f} s after the relay was up")
                    self.assertLess(back, 5.0)
                    rc2 = linktest.admin(r2, first=False)
                    apps = linktest.appliances(rc2)
                    online = [n for n, a in apps.items() if a["online"]]
                    self.assertEqual(len(online), 1, apps)
                    # An enrolled device survives the restart in the registry.
                    self.assertIn(device, apps)
                    self.assertFalse(apps[device]["online"])
            r1.proc = None  # already stopped and checked

    def test_relay_drops_a_silent_agent(self):
        """An agent that freezes (SIGSTOP) stops pinging: the relay drops it within 30 s."""
        state = relaytest.new_state_dir(self)
        with linktest.relay(state) as r:
            rc = linktest.admin(r)
            with linktest.agent() as ag:
                ac = linktest.agent_client(ag)
                tok = linktest.token(rc)
                res = linktest.enrol(ac, tok)
                self.assertEqual(res.status, 200, res.body)
                device = res.json()["device"]
                linktest.wait_for(lambda: linktest.appliances(rc).get(device, {}).get("online"),
                                  what="online")
                ag.proc.send_signal(signal.SIGSTOP)
                t0 = time.monotonic()
                try:
                    linktest.wait_for(lambda: not linktest.appliances(rc)[device]["online"],
                                      timeout=35, step=0.5, what="relay drops the frozen agent")
                    took = time.monotonic() - t0
                    print(f"relay noticed the silent agent after {took:.1f} s")
                    self.assertLessEqual(took, 31)
                finally:
                    ag.proc.send_signal(signal.SIGCONT)
                # Thawed, it notices and comes back by itself.
                linktest.wait_for(lambda: linktest.appliances(rc)[device]["online"], timeout=30,
                                  what="agent back after thawing")
            self.assertIn("silent", r.output())


if __name__ == "__main__":
    unittest.main(verbosity=2)
