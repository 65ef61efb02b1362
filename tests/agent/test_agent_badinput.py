"""Garbage in every paste box of the wizard (provisioning certificate, signed certificate,
chain, private key, PKCS#12 file and its password) and malformed requests: each gets a clear
400 with a message, nothing on the card or in the state changes, and the agent stays up."""
import base64
import os
import tempfile

from agentlib import (PIN, Client, agent, expect, keys, make_template, openssl, piv_tool,
                      set_up, slot_of, wait_key)
from pivsim import PcscEnv

GARBAGE = [
    "",
    "hello",
    "-----BEGIN CERTIFICATE-----\nnot base64 at all!!\n-----END CERTIFICATE-----\n",
    "-----BEGIN CERTIFICATE-----\nMIIBkTCB+wIJAKHHIG\n-----END CERTIFICATE-----\n",  # truncated DER
    "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
    "\x01\x02\xff\u2603" * 50,
    "A" * 200000,
]
SECRET_MAX = 16384  # agent/secmem/secmem.h: the longest PIN, password or pasted key accepted


def snapshot(c, env, serial, slot):
    cert = piv_tool(env, env.readers[0], "-a", "read-certificate", "-s", slot, check=False).stdout
    return (slot_of(c, serial, slot), cert)


def main():
    work = tempfile.mkdtemp(prefix="agent-bad-")
    with PcscEnv(n_keys=1) as env:
        d = agent(env=env.env)
        with d:
            c = Client(d.url)
            c.login()
            serial = env.serials[0]
            wait_key(c, serial)
            set_up(c, serial)
            template = make_template(work)
            base = f"/api/keys/{serial}/slots"
            # a provisioned slot (9c) and a slot waiting for its certificate (9d)
            expect(c.post(f"{base}/9c/generate", {"pin": PIN, "algorithm": "ec-p256"}), 200)
            expect(c.post(f"{base}/9c/provision",
                          {"pin": PIN, "template": template, "mode": "self-signed"}), 200)
            expect(c.post(f"{base}/9d/generate", {"pin": PIN, "algorithm": "ec-p256"}), 200)
            expect(c.post(f"{base}/9d/provision", {"pin": PIN, "template": template, "mode": "csr"}), 200)
            before = {s: snapshot(c, env, serial, s) for s in ("9c", "9d")}
            audit_before = len(c.get("/api/audit").json())

            def bad(path, body, code, status=400):
                r = expect(c.post(path, body), status, code)
                msg = r.json()["error"]["message"]
                assert msg and len(msg) < 300, msg
                expect(c.get("/healthz"), 200)
                return msg

            for g in GARBAGE:
                m = bad(f"{base}/9d/provision", {"pin": PIN, "template": g, "mode": "self-signed"},
                        "bad_template")
                assert "provisioning certificate" in m
                bad(f"{base}/9d/certificate", {"pin": PIN, "certificate": g}, "bad_certificate")
                bad(f"{base}/9d/certificate",
                    {"pin": PIN, "certificate": template, "chain": g or "junk"}, "bad_chain")
                bad(f"{base}/9e/import-key", {"pin": PIN, "key": g or "junk"}, "bad_key")
                bad(f"{base}/9e/import-key", {"pin": PIN, "pkcs12": g or "junk", "password": "x"},
                    "bad_pkcs12")
            # a leaf certificate is no CA template; a certificate for another key is refused
            leaf = make_template(tempfile.mkdtemp(dir=work), ca=False)
            bad(f"{base}/9d/provision", {"pin": PIN, "template": leaf, "mode": "self-signed"},
                "bad_template")
            bad(f"{base}/9d/certificate", {"pin": PIN, "certificate": template}, "key_mismatch")
            # a real PKCS#12 file with a wrong password, and random bytes in base64
            k, crt, p12 = (os.path.join(work, n) for n in ("k.pem", "c.pem", "x.p12"))
            openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", k, "-out", crt, "-subj", "/CN=x", "-days", "10")
            openssl("pkcs12", "-export", "-inkey", k, "-in", crt, "-out", p12, "-passout", "pass:right")
            with open(p12, "rb") as f:
                b64 = base64.b64encode(f.read()).decode()
            m = bad(f"{base}/9e/import-key", {"pin": PIN, "pkcs12": b64, "password": "wrong"},
                    "bad_password")
            assert "password" in m
            bad(f"{base}/9e/import-key", {"pin": PIN, "pkcs12": base64.b64encode(os.urandom(300)).decode(),
                                          "password": "x"}, "bad_pkcs12")
            # garbage as the password of a real PKCS#12 file and of a real encrypted PKCS#8
            # key, up to the longest password accepted and beyond
            p8 = os.path.join(work, "k8.pem")
            openssl("pkcs8", "-topk8", "-in", k, "-out", p8, "-v2", "aes-256-cbc",
                    "-passout", "pass:right")
            with open(p8) as f:
                enc_key = f.read()
            assert "BEGIN ENCRYPTED PRIVATE KEY" in enc_key
            for g in GARBAGE + ["B" * SECRET_MAX, "B" * (SECRET_MAX + 1), "right\n", "Right"]:
                too_long = len(g.encode()) > SECRET_MAX
                m = bad(f"{base}/9e/import-key", {"pin": PIN, "pkcs12": b64, "password": g},
                        "bad_request" if too_long else "bad_password")
                assert "password" in m, m
                m = bad(f"{base}/9e/import-key", {"pin": PIN, "key": enc_key, "password": g},
                        "bad_request" if too_long else "bad_key")
                assert ("at most %d bytes" % SECRET_MAX if too_long else "wrong password") in m, m
                assert slot_of(c, serial, "9e")["state"] == "empty"
            # malformed requests
            bad(f"{base}/9e/generate", {"pin": PIN, "algorithm": "ed25519"}, "bad_algorithm")
            bad(f"{base}/9e/generate", {"pin": PIN, "algorithm": "ec-p256", "pin_policy": "sometimes"},
                "bad_policy")
            bad(f"{base}/9e/generate", {"pin": 123456, "algorithm": "ec-p256"}, "bad_request")
            bad(f"{base}/9d/provision", {"pin": PIN, "template": template, "mode": "both"}, "bad_mode")
            expect(c.post(f"{base}/9e/generate", b"{not json"), 400, "bad_json")
            expect(c.post(f"{base}/9d/certificate", {"pin": PIN, "certificate": "\x00abc"}), 400,
                   "bad_json")
            expect(c.post(f"{base}/9e/generate", b"[1,2]"), 400, "bad_json")
            expect(c.post(f"{base}/f9/generate", {"pin": PIN, "algorithm": "ec-p256"}), 400, "bad_slot")
            expect(c.post(f"{base}/9b/generate", {"pin": PIN, "algorithm": "ec-p256"}), 400, "bad_slot")
            expect(c.post(f"/api/keys/12x/setup", {}), 404)
            expect(c.post(f"/api/keys/99999999/verify-pin", {"pin": PIN}), 404, "no_key")
            expect(c.post(f"{base}/9e/generate", b"x" * (2 * 1024 * 1024)), 413)
            # nothing changed on the card, in the slot states or the PIN counter
            after = {s: snapshot(c, env, serial, s) for s in ("9c", "9d")}
            assert after == before
            assert slot_of(c, serial, "9e")["state"] in ("empty",)
            assert keys(c)[serial]["pin_retries"] == 3
            events = [e["event"] for e in c.get("/api/audit").json()]
            assert len(events) == audit_before, events[: len(events) - audit_before]
            # the same PKCS#12 file and encrypted key with the right password are accepted
            # (what the garbage passwords were refused for was the password)
            spki = openssl("pkey", "-in", k, "-pubout").stdout.strip()
            for slot, body in (("9e", {"pkcs12": b64}), ("9a", {"key": enc_key})):
                r = expect(c.post(f"{base}/{slot}/import-key",
                                  {"pin": PIN, "password": "right", **body}), 200)
                assert r.json()["public_key"].strip() == spki, r.json()
                assert slot_of(c, serial, slot)["state"] == "key_imported"
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
