"""Hostile link traffic against the real daemons: a man in the middle (wsmitm.Mitm) sits between
each iothsm-agent and the pki-relay and tampers with the relay -> agent sign requests. For each
attack the agent refuses the message with its own code in its log and in its audit log
(link.refused), the virtual YubiKey makes no signature, and the API caller on the relay gets
504 "timeout" (the agent does not answer what it refuses, so the relay's signer times out):

  forged     a byte of the envelope changed in flight: in the ciphertext or the GCM tag
             (undecryptable), in the outer DER (malformed); an envelope sealed to the appliance
             by the attacker (link-forge): the relay's certificate over a signature by another
             key (bad_signature), a valid signature by a key calling itself the relay
             (wrong_signer);
  replayed   a sign request the agent answered, sent again: alone, in place of a fresh request,
             and after the agent restarted (the replay cache is on disk);
  expired    a sign request held back past its expiry (the agent restarted with its clock
             PKI_FAKE_NOW 300 s ahead, behind a proxy that no longer reaches the relay);
  another appliance  a request sealed for appliance B delivered on appliance A's connection
             (undecryptable: the recipient is inside the encryption, so A cannot even read it;
             wrong_recipient needs an envelope signed by the relay and sealed to A, which no one
             but the relay can make — test_link_envelope shows that check).

Afterwards an untampered request is still signed. The card's signatures are counted in piv-sim's
debug log (GENERAL AUTHENTICATE with the slot's key, "ins=87 p1=11 p2=9c")."""
import base64
import contextlib
import os
import shutil
import sqlite3
import ssl
import tempfile
import time
import unittest

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

import linktest
import pkitest
import relaytest
from agentlib import set_up, wait_key
from pivsim import PcscEnv
from test_link_sign import tbs_cert
from wsmitm import Mitm

TIMEOUT_MS = 3000
FORGE = os.path.join(pkitest.BUILD_DIR, "tests", "link", "link-forge")


def agent_config(mitm, extra=""):
    return ('link = {{ tls_ca = "%s"; ping_ms = 3000; dead_ms = 15000; max_backoff_ms = 1000; }};'
            "\n%s" % (mitm.cert_path, extra))


def restart(d, env_change=None):
    """Stops the daemon (it must exit 0), applies env_change and starts it again."""
    assert d.stop() == 0, d.output()
    d.log.close()
    for k, v in (env_change or {}).items():
        if v is None:
            d.env.pop(k, None)
        else:
            d.env[k] = v
    d.start()


def flip(i):
    def act(msg):
        b = bytearray(msg)
        b[i % len(b)] ^= 0x01
        return bytes(b)
    return act


class LinkHostile(unittest.TestCase):
    ok = False

    def dump(self, *daemons):
        """When the test failed, the agents' output (the relay's is printed by its context)."""
        if not self.ok:
            for d in daemons:
                print(f"--- {d.name} {d.dir} ---\n{d.output()[-20000:]}")

    def test_tampered_sign_requests(self):
        work = tempfile.mkdtemp(prefix="link-hostile-")
        self.addCleanup(shutil.rmtree, work, True)
        state = relaytest.new_state_dir(self)
        with PcscEnv(n_keys=1, log_level="debug") as env, linktest.relay(state) as r:
            rc = linktest.admin(r)
            ma, mb = Mitm(r.port), Mitm(r.port)
            self.addCleanup(ma.close)
            self.addCleanup(mb.close)
            ag = linktest.agentlib.agent(agent_config(ma), env=env.env)
            # Appliance B has no YubiKey: it only has to be enrolled and reachable.
            agb = linktest.agentlib.agent(
                agent_config(mb, 'yubikey = {{ reader_filter = "no such reader"; }};'))
            ag.start()
            self.addCleanup(ag.kill)
            agb.start()
            self.addCleanup(agb.kill)
            self.addCleanup(self.dump, ag, agb)
            ac = linktest.agent_client(ag)
            serial = env.serials[0]
            wait_key(ac, serial)
            set_up(ac, serial)
            ca = linktest.self_signed_ca(ac, serial, work)
            ca_pub = linktest.pub_pem(ca)
            ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest

            # Both appliances enrol through their man in the middle.
            def enrol(client, mitm):
                tok = dict(linktest.token(rc), link_url=mitm.url())
                res = linktest.enrol(client, tok)
                self.assertEqual(res.status, 200, res.body)
                return res.json()["device"]

            dev_a = enrol(ac, ma)
            acb = linktest.agent_client(agb)
            dev_b = enrol(acb, mb)
            for d in (dev_a, dev_b):
                linktest.wait_for(lambda: linktest.appliances(rc).get(d, {}).get("online"),
                                  what=f"{d} online")

            sim_log = os.path.join(env.state_dir, "piv-sim-0.log")

            def card_signatures():
                with open(sim_log, errors="replace") as f:
                    return f.read().count("apdu: ins=87 p1=11 p2=9c")

            def audit(client, event):
                r_ = client.get("/api/audit")
                self.assertEqual(r_.status, 200, r_.body)
                return [e for e in r_.json() if e.get("event") == event]

            def sign(tbs=None, appliance=dev_a, timeout_ms=TIMEOUT_MS):
                tbs = tbs or tbs_cert(ca.subject, ski)
                res = rc.post("/api/v1/appliances/signature", {
                    "appliance": appliance, "slot": f"{serial}/9c", "ca_id": "ca-test",
                    "algorithm": "ecdsa-with-SHA256", "tbs": base64.b64encode(tbs).decode(),
                    "public_key": ca_pub, "timeout_ms": timeout_ms})
                return tbs, res

            def good_signature():
                before = card_signatures()
                tbs, res = sign(timeout_ms=20000)
                self.assertEqual(res.status, 200, res.body)
                ca.public_key().verify(base64.b64decode(res.json()["signature"]), tbs,
                                       ec.ECDSA(hashes.SHA256()))
                self.assertEqual(card_signatures(), before + 1)

            state_ = {"client": ac}

            def refused(code, action):
                """Runs action (which makes the agent receive one hostile frame) and checks the
                refusal: logged with code, audited with code, no signature on the card, nothing
                audited as signed."""
                client = state_["client"]
                sigs, signed = card_signatures(), len(audit(client, "link.sign"))
                n_ref = len(audit(client, "link.refused"))
                line = f"link: refused a message from the relay: {code} ("
                n_log = ag.output().count(line)
                action()
                entries = linktest.wait_for(
                    lambda: (lambda x: x if len(x) > n_ref else None)(
                        audit(client, "link.refused")), what=f"the agent to audit {code}")
                self.assertEqual(len(entries), n_ref + 1, entries)
                e = entries[0]  # newest first
                self.assertEqual((e["actor"], e["detail"]), ("relay", code), e)
                linktest.wait_for(lambda: ag.output().count(line) > n_log,
                                  what=f"'{line}' in the agent's log")
                self.assertEqual(ag.output().count(line), n_log + 1)
                self.assertEqual(card_signatures(), sigs, "the card signed")
                self.assertEqual(len(audit(client, "link.sign")), signed)

            def tampered_call(code, tamper):
                """A sign request through the API, changed in flight by tamper: the caller gets
                504 timeout after its timeout_ms, the agent refuses it with code."""
                out = {}

                def act():
                    ma.arm(tamper)
                    t0 = time.monotonic()
                    out["tbs"], res = sign()
                    out["took"] = time.monotonic() - t0
                    relaytest.assert_error(self, res, 504, "timeout")
                    self.assertGreaterEqual(out["took"], TIMEOUT_MS / 1000 - 0.5)
                    out["original"] = ma.wait_hit(5)
                refused(code, act)
                return out

            good_signature()
            self.assertEqual(len(audit(ac, "link.sign")), 1)

            # (1) Forged: one bit changed in the ciphertext, in the GCM tag, in the outer DER.
            tampered_call("undecryptable", flip(-100))
            tampered_call("undecryptable", flip(-1))
            tampered_call("malformed", flip(0))

            # ...and whole envelopes an attacker can seal to A's device certificate (public; read
            # here from the relay's registry) without the relay's key: the relay's certificate
            # over a signature by another key (bad_signature), and a valid signature by a key
            # that calls itself the relay (wrong_signer), for to-be-signed bytes A would sign.
            pem = relaytest.Client(r).get("/api/v1/link/certificate")
            self.assertEqual(pem.status, 200)
            relay_cert = ssl.PEM_cert_to_DER_cert(pem.body.decode())
            with contextlib.closing(sqlite3.connect(
                    f"file:{os.path.join(state, 'link.db')}?mode=ro", uri=True)) as db:
                device_cert = db.execute("SELECT cert FROM appliances WHERE name = ?",
                                         (dev_a,)).fetchone()[0]

            def forge(mode):
                files = {}
                for name, data in (("relay.der", relay_cert), ("device.der", device_cert),
                                   ("tbs.der", tbs_cert(ca.subject, ski))):
                    files[name] = os.path.join(work, name)
                    with open(files[name], "wb") as f:
                        f.write(data)
                out = os.path.join(work, "forged.env")
                pkitest.run([FORGE, mode, files["relay.der"],
                             files["device.der"], dev_a, "ca-test", f"{serial}/9c",
                             files["tbs.der"], out])
                with open(out, "rb") as f:
                    return f.read()

            refused("bad_signature", lambda: ma.inject(forge("forged")))
            foreign = forge("foreign")
            tampered_call("wrong_signer", lambda msg: foreign)

            # (2) Replayed: a request the agent answered, sent again on its own, and in place of
            # a fresh request (whose caller then times out).
            good_signature()
            answered = ma.seen[-1]
            refused("replayed", lambda: ma.inject(answered))
            tampered_call("replayed", lambda msg: answered)

            # ...and after the agent restarted: the replay cache is on disk. A request answered
            # just before, so the restart stays well inside its lifetime (60 s + 60 s skew).
            good_signature()
            answered = ma.seen[-1]
            t_answered = time.monotonic()
            mark = ma.mark()
            restart(ag)
            ac = state_["client"] = linktest.agent_client(ag)
            linktest.wait_for(lambda: linktest.link_state(ac)["state"] == "online",
                              what="agent back online after its restart")
            self.assertLess(time.monotonic() - t_answered, 60)
            refused("replayed", lambda: ma.inject(answered, newer_than=mark))
            good_signature()

            # (3) Expired: a request held back (its caller times out) and delivered after its
            # expiry. Rather than wait two minutes, the agent restarts with its clock 300 s
            # ahead, behind a proxy that answers it itself (the relay would refuse an agent
            # from the future, and it must not see this one).
            held = {}

            def hold():
                ma.arm(lambda m: None)
                t0 = time.monotonic()
                _, res = sign()
                relaytest.assert_error(self, res, 504, "timeout")
                self.assertGreaterEqual(time.monotonic() - t0, TIMEOUT_MS / 1000 - 0.5)
                held["msg"] = ma.wait_hit(5)

            sigs = card_signatures()
            hold()
            self.assertEqual(card_signatures(), sigs)
            ma.isolate = True
            mark = ma.mark()
            restart(ag, {"PKI_FAKE_NOW": str(int(time.time()) + 300)})
            ac = state_["client"] = linktest.agent_client(ag)
            ma.current(newer_than=mark)  # the agent dialled the proxy and said hello
            refused("expired", lambda: ma.inject(held["msg"], newer_than=mark))
            ma.isolate = False
            mark = ma.mark()
            restart(ag, {"PKI_FAKE_NOW": None})
            ac = state_["client"] = linktest.agent_client(ag)
            linktest.wait_for(lambda: linktest.link_state(ac)["state"] == "online",
                              what="agent back online with its own clock")
            linktest.wait_for(lambda: linktest.appliances(rc)[dev_a]["online"],
                              what="relay sees the agent again")

            # (4) Another appliance's request: one sealed for B (held back from B, whose caller
            # times out), delivered on A's connection.
            mb.arm(lambda m: None)
            _, res = sign(appliance=dev_b)
            relaytest.assert_error(self, res, 504, "timeout")
            for_b = mb.wait_hit(5)
            refused("undecryptable", lambda: ma.inject(for_b, newer_than=mark))
            self.assertEqual(audit(acb, "link.sign"), [])
            self.assertEqual(audit(acb, "link.refused"), [])

            # The link survived all of it: an untampered request is signed.
            self.assertTrue(linktest.appliances(rc)[dev_a]["online"])
            good_signature()
            # Every refusal was audited once, and nothing else was refused.
            codes = [e["detail"] for e in audit(ac, "link.refused")]
            self.assertEqual(sorted(codes), sorted(
                ["undecryptable"] * 3 + ["malformed", "bad_signature", "wrong_signer"] +
                ["replayed"] * 3 + ["expired"]), codes)
            for d in (ag, agb):
                self.assertEqual(d.stop(), 0, d.output())
                d.log.close()
                self.assertNotIn("ERROR: AddressSanitizer", d.output())
            self.ok = True
            for d in (ag, agb):
                shutil.rmtree(d.dir, ignore_errors=True)
            print(f"sign requests through the proxy: {len(ma.seen)}, "
                  f"{min(len(x) for x in ma.seen)}-{max(len(x) for x in ma.seen)} bytes")


if __name__ == "__main__":
    unittest.main(verbosity=2)
