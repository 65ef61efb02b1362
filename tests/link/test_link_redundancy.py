"""Two appliances holding the same imported key serve one CA: the relay spreads a burst of
signatures over both, and when one is killed mid-burst its open requests move to the other, so
every request ends with a signature that verifies (none lost, none failed)."""
import base64
import os
import tempfile
import threading
import time
import unittest

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

import linktest
import relaytest
from agentlib import PIN, expect, openssl, set_up, wait_key
from pivsim import PcscEnv
from linktest import tbs_crl


def agent_for(env, reader):
    return linktest.agentlib.agent(
        linktest.AGENT_LINK + 'yubikey = {{ reader_filter = "' + reader + '"; }};\n', env=env.env)


class LinkRedundancy(unittest.TestCase):
    def test_two_appliances_one_key(self):
        work = tempfile.mkdtemp(prefix="link-red-")
        key = os.path.join(work, "ca.key")
        crt = os.path.join(work, "ca.pem")
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key)
        openssl("req", "-x509", "-key", key, "-out", crt, "-days", "365",
                "-subj", "/O=Example Org/CN=Shared HSM CA",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        key_pem, ca_pem = open(key).read(), open(crt).read()
        ca = x509.load_pem_x509_certificate(ca_pem.encode())
        pub = openssl("pkey", "-in", key, "-pubout").stdout
        state = relaytest.new_state_dir(self)
        with PcscEnv(n_keys=2) as env, linktest.relay(state) as r:
            rc = linktest.admin(r)
            agents, names, clients = [], [], []
            try:
                for i, serial in enumerate(env.serials):
                    ag = agent_for(env, env.readers[i])
                    ag.start()
                    agents.append(ag)
                    ac = linktest.agent_client(ag)
                    clients.append(ac)
                    wait_key(ac, serial)
                    self.assertEqual(list(linktest.agentlib.keys(ac)), [serial])
                    set_up(ac, serial)
                    expect(ac.post(f"/api/keys/{serial}/slots/9c/import-key",
                                   {"pin": PIN, "key": key_pem, "pin_policy": "never"}), 200)
                    expect(ac.post(f"/api/keys/{serial}/slots/9c/certificate",
                                   {"pin": PIN, "certificate": ca_pem}), 200)
                    res = linktest.enrol(ac, linktest.token(rc))
                    self.assertEqual(res.status, 200, res.body)
                    names.append(res.json()["device"])
                for n in names:
                    linktest.wait_for(lambda: linktest.appliances(rc).get(n, {}).get("online"),
                                      what=f"{n} online")
                # Each appliance holds the key in slot 9c of its own YubiKey.
                targets = [{"appliance": n, "slot": f"{serial}/9c"}
                           for n, serial in zip(names, env.serials)]
                tbs = tbs_crl(ca.subject)
                results, lock = [], threading.Lock()

                def burst(k):
                    c = relaytest.logged_in(r, linktest.ADMIN, linktest.ADMIN_PW)
                    for _ in range(25):
                        res = c.post("/api/v1/appliances/signature", {
                            "targets": targets,
                            "tbs": base64.b64encode(tbs).decode(), "public_key": pub})
                        with lock:
                            results.append(res)

                threads = [threading.Thread(target=burst, args=(k,)) for k in range(4)]
                for t in threads:
                    t.start()
                linktest.wait_for(lambda: len(results) >= 20, what="burst under way")
                agents[0].kill()
                t0 = time.monotonic()
                for t in threads:
                    t.join(timeout=120)
                self.assertEqual(len(results), 100)
                bad = [(x.status, x.body[:200]) for x in results if x.status != 200]
                self.assertEqual(bad, [])
                for x in results:
                    ca.public_key().verify(base64.b64decode(x.json()["signature"]), tbs,
                                           ec.ECDSA(hashes.SHA256()))
                # Both appliances signed part of it.
                served = [len([e for e in c.get("/api/audit").json()
                               if e.get("event") == "link.sign"])
                          for c in clients[1:]]
                self.assertGreater(served[0], 0)
                print(f"burst of 100 finished {time.monotonic() - t0:.1f} s after the kill; "
                      f"the survivor signed {served[0]}")
            finally:
                for ag in agents:
                    ag.kill()


if __name__ == "__main__":
    unittest.main(verbosity=2)
