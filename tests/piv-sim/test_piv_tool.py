"""piv-sim driven by Debian's yubico-piv-tool through pcscd + vpcd: every action a user of a
YubiKey relies on, with every signature and certificate checked by openssl.

Note on selfsign-certificate / request-certificate: yubico-piv-tool 2.2.0 built against OpenSSL 3
cannot sign certificates or requests with any key (Yubico/yubico-piv-tool#388: its RSA/EC method
override is ignored by OpenSSL 3, so no signing command ever reaches the card). The test runs
both actions and requires exactly that failure mode (the card saw no signing command); the
certificate and request are then produced with the slot key through the tool's --sign path and
verified by openssl. When a fixed tool is installed, the actions are required to succeed."""

import os
import re
import subprocess
import sys
import time

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from pivsim import PcscEnv
from pivtool import MGM_DEFAULT, Tool, csr_via_slot, openssl, selfsigned_via_slot, verify_signature

NEW_MGM = "0f0e0d0c0b0a09080706050403020100f0e0d0c0b0a09080"


def step(msg):
    print("--", msg, flush=True)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def sim_log(env):
    with open(os.path.join(env.state_dir, "piv-sim-0.log")) as f:
        return f.read()


def check_version_status(t, env):
    step("version and status")
    _, out, _ = t.run("-a", "version")
    assert "Application version 5.4.3 found." in out, out
    st = t.status()
    assert "Version:\t5.4.3" in st, st
    assert "Serial Number:\t%d" % env.serials[0] in st, st
    assert t.pin_tries() == 3


def check_generate_and_sign(t):
    """Generation in 9a/9c/9d/9e and retired slots; each key signs data that openssl verifies."""
    cases = [("9a", "RSA2048", rsa.RSAPublicKey), ("9c", "ECCP256", ec.EllipticCurvePublicKey),
             ("9d", "ECCP384", ec.EllipticCurvePublicKey), ("9e", "ECCP256", ec.EllipticCurvePublicKey),
             ("82", "RSA2048", rsa.RSAPublicKey), ("95", "ECCP384", ec.EllipticCurvePublicKey),
             ("8a", "RSA1024", rsa.RSAPublicKey)]
    keys = {}
    for slot, algo, kind in cases:
        step("generate %s in %s" % (algo, slot))
        pub = t.generate(slot, algo)
        assert isinstance(pub, kind), type(pub)
        if algo.startswith("RSA"):
            assert pub.key_size == int(algo[3:])
        else:
            assert pub.curve.name == ("secp256r1" if algo == "ECCP256" else "secp384r1")
        data = ("message for slot %s" % slot).encode()
        sig = t.sign(slot, algo, data)
        write(t.path("data.bin"), data)
        write(t.path("data.sig"), sig)
        verify_signature(t.path("pub-%s.pem" % slot), t.path("data.bin"), t.path("data.sig"))
        keys[slot] = (algo, pub)
    return keys


def check_selfsign_and_request(t, env, keys):
    for slot in ("9a", "9c"):
        algo, pub = keys[slot]
        step("selfsign-certificate and request-certificate for %s" % slot)
        before = sim_log(env).count("ins=87")
        cert_pem, req_pem = t.path("self-%s.pem" % slot), t.path("req-%s.pem" % slot)
        rc1, _, err1 = t.run("-a", "verify-pin", "-P", "123456", "-a", "selfsign-certificate",
                             "-s", slot, "-S", "/CN=self %s/" % slot, "-i", t.path("pub-%s.pem" % slot),
                             "-o", cert_pem, ok=None)
        rc2, _, err2 = t.run("-a", "verify-pin", "-P", "123456", "-a", "request-certificate",
                             "-s", slot, "-S", "/CN=req %s/" % slot, "-i", t.path("pub-%s.pem" % slot),
                             "-o", req_pem, ok=None)
        if rc1 == 0 and rc2 == 0:
            openssl("verify", "-check_ss_sig", "-CAfile", cert_pem, cert_pem)
            openssl("req", "-in", req_pem, "-verify", "-noout")
        else:
            # the known tool bug: it fails before sending any signing command to the card
            assert "Failed signing certificate." in err1 or rc1 == 0, err1
            assert "Failed signing request." in err2 or rc2 == 0, err2
            assert sim_log(env).count("ins=87") == before, "the tool reached the card and failed"
            print("   yubico-piv-tool#388 (OpenSSL 3): signing through --sign instead", flush=True)
            write(cert_pem, selfsigned_via_slot(t, slot, algo, pub, "self %s" % slot))
            write(req_pem, csr_via_slot(t, slot, algo, pub, "req %s" % slot))
            openssl("x509", "-inform", "DER", "-in", cert_pem, "-out", cert_pem + ".pem")
            openssl("verify", "-check_ss_sig", "-CAfile", cert_pem + ".pem", cert_pem + ".pem")
            r = openssl("req", "-inform", "DER", "-in", req_pem, "-verify", "-noout")
            assert b"verify OK" in r.stdout + r.stderr, r.stderr
            cert_pem = cert_pem + ".pem"
        # the certificate carries the slot's public key
        with open(cert_pem, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        assert cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == \
            pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        step("import-certificate / read-certificate / delete-certificate in %s" % slot)
        t.run("-k" + MGM_DEFAULT, "-a", "import-certificate", "-s", slot, "-i", cert_pem)
        out_pem = t.path("read-%s.pem" % slot)
        t.run("-a", "read-certificate", "-s", slot, "-o", out_pem)
        with open(out_pem, "rb") as f:
            assert x509.load_pem_x509_certificate(f.read()) == cert
        assert "Subject DN:\tCN=self %s" % slot in t.status()
        if slot == "9a":  # test-signature reads the certificate between VERIFY and the signature
            t.run("-a", "verify-pin", "-P", "123456", "-a", "test-signature", "-s", slot, "-i", cert_pem)
        t.run("-k" + MGM_DEFAULT, "-a", "delete-certificate", "-s", slot)
        t.run("-a", "read-certificate", "-s", slot, "-o", out_pem, ok=False)
        t.run("-k" + MGM_DEFAULT, "-a", "import-certificate", "-s", slot, "-i", cert_pem)


def check_import_key(t):
    for slot, (kind, args, algo) in {
            "83": ("RSA", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"], "RSA2048"),
            "84": ("P-256", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], "ECCP256"),
            "85": ("P-384", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"], "ECCP384"),
    }.items():
        step("import-key (PEM) %s into %s" % (kind, slot))
        key_pem, pub_pem = t.path("imp-%s.pem" % slot), t.path("imp-%s.pub" % slot)
        openssl(*args, "-out", key_pem)
        openssl("pkey", "-in", key_pem, "-pubout", "-out", pub_pem)
        t.run("-k" + MGM_DEFAULT, "-a", "import-key", "-s", slot, "-i", key_pem)
        data = b"imported key signs"
        write(t.path("data.bin"), data)
        write(t.path("data.sig"), t.sign(slot, algo, data))
        verify_signature(pub_pem, t.path("data.bin"), t.path("data.sig"))


def signed_and_verified(t, slot, algo, data, pin="123456"):
    """A signature by the slot key through the tool, checked by openssl against the slot's
    public key (pub-<slot>.pem, written when the key was generated)."""
    sig = t.sign(slot, algo, data, pin=pin)
    assert sig is not None
    write(t.path("signed.bin"), data)
    write(t.path("signed.sig"), sig)
    verify_signature(t.path("pub-%s.pem" % slot), t.path("signed.bin"), t.path("signed.sig"))


def check_pin_counters(t, env):
    step("wrong PIN decrements the counter, right PIN restores it")
    _, _, err = t.run("-a", "verify-pin", "-P", "000000", ok=False)
    assert "2 tries left" in err, err
    assert t.pin_tries() == 2
    t.run("-a", "verify-pin", "-P", "123456")
    assert t.pin_tries() == 3
    step("change-pin, change-puk")
    t.run("-a", "change-pin", "-P", "123456", "-N", "654321")
    t.run("-a", "verify-pin", "-P", "123456", ok=False)
    t.run("-a", "verify-pin", "-P", "654321")
    t.run("-a", "change-puk", "-P", "12345678", "-N", "87654321")
    step("blocked PIN refuses signing, even with the right PIN; unblock-pin with the PUK")
    for left in (2, 1, 0):
        _, _, err = t.run("-a", "verify-pin", "-P", "111111", ok=False)
        assert "%d tries left" % left in err or (left == 0 and "blocked" in err.lower()), err
    assert t.pin_tries() == 0
    signs = sim_log(env).count("ins=87")
    _, _, err = t.run("-a", "verify-pin", "-P", "654321", ok=False)
    assert "Pin code blocked" in err, err
    write(t.path("x.bin"), b"x")
    _, _, err = t.run("-a", "verify-pin", "-P", "654321", "--sign", "-s", "9a", "-A", "RSA2048",
                      "-i", t.path("x.bin"), "-o", t.path("x.sig"), ok=False)
    assert "Pin code blocked" in err, err
    assert sim_log(env).count("ins=87") == signs, "a signing command reached the blocked card"
    assert t.sign("9a", "RSA2048", b"x", pin=None, ok=False) is None  # card answers 6982
    assert "sw=6982" in sim_log(env).split("ins=87")[-1].split("\n")[1], sim_log(env)[-600:]
    assert t.pin_tries() == 0
    signed_and_verified(t, "9e", "ECCP256", b"PIN policy never", pin=None)  # still works
    t.run("-a", "unblock-pin", "-P", "12345678", "-N", "222222", ok=False)  # old PUK
    t.run("-a", "unblock-pin", "-P", "87654321", "-N", "222222")
    assert t.pin_tries() == 3
    signed_and_verified(t, "9a", "RSA2048", b"unblocked", pin="222222")


def check_pin_always(t):
    step("PIN policy always (9c): the signature must follow the VERIFY directly")
    signed_and_verified(t, "9c", "ECCP256", b"first", pin="222222")
    write(t.path("a.bin"), b"a")
    rc, out, err = t.run("-a", "verify-pin", "-P", "222222", "-a", "status", "--sign", "-s", "9c",
                         "-A", "ECCP256", "-i", t.path("a.bin"), "-o", t.path("a.sig"), ok=None)
    assert rc != 0 and "Failed signing" in err, (rc, out, err)


def check_mgm_key(t, env):
    step("unauthenticated management operations are refused (6982)")
    r = env.apdu(0, "00a4040005a000000308", "00470095" "05" "ac03800111")
    assert r[1][-2:] == b"\x69\x82", r[1].hex()
    t.run("-k" + NEW_MGM, "-a", "generate", "-s", "86", "-o", t.path("x.pem"), ok=False)
    step("set-mgm-key")
    t.run("-k" + MGM_DEFAULT, "-a", "set-mgm-key", "-n", NEW_MGM)
    t.run("-k" + MGM_DEFAULT, "-a", "generate", "-s", "86", "-A", "ECCP256", "-o", t.path("x.pem"), ok=False)
    t.generate("86", "ECCP256", mgm=NEW_MGM)
    t.run("-k" + NEW_MGM, "-a", "set-mgm-key", "-n", MGM_DEFAULT)
    t.generate("87", "ECCP256")


def check_chuid_ccc(t):
    step("set-chuid, set-ccc")
    st = t.status()
    assert "CHUID:\tNo data available" in st and "CCC:\tNo data available" in st, st
    t.run("-k" + MGM_DEFAULT, "-a", "set-chuid", "-a", "set-ccc")
    st = t.status()
    m = re.search(r"CHUID:\t([0-9a-f]+)", st)
    assert m and len(m.group(1)) > 40, st
    assert re.search(r"CCC:\t[0-9a-f]{40,}", st), st
    _, out, _ = t.run("-a", "read-object", "--id", str(0x5FC102), "-f", "hex")
    assert out.strip().lower().startswith("3019"), out  # FASC-N first in the CHUID


def check_attest(t, env):
    step("attest: certificate chain to the simulator's attestation CA")
    f9 = t.path("f9.pem")
    t.run("-a", "read-certificate", "-s", "f9", "-o", f9)
    for slot, (pin_pol, touch_pol) in (("9a", (2, 1)), ("9c", (3, 1)), ("9e", (1, 1))):
        att = t.path("att-%s.pem" % slot)
        t.run("-a", "attest", "-s", slot, "-o", att)
        r = openssl("verify", "-CAfile", env.attestation_ca_pem, "-untrusted", f9, att)
        assert b": OK" in r.stdout, r.stdout
        with open(att, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        ext = {e.oid.dotted_string: e.value.value for e in cert.extensions}
        assert ext["1.3.6.1.4.1.41482.3.3"] == bytes([5, 4, 3])
        assert ext["1.3.6.1.4.1.41482.3.7"] == b"\x02\x04" + env.serials[0].to_bytes(4, "big")
        assert ext["1.3.6.1.4.1.41482.3.8"] == bytes([pin_pol, touch_pol]), ext
        assert ext["1.3.6.1.4.1.41482.3.9"] == b"\x01"
        with open(f9, "rb") as f:
            f9cert = x509.load_pem_x509_certificate(f.read())
        assert cert.issuer == f9cert.subject
        assert cert.not_valid_before == f9cert.not_valid_before  # as a YubiKey: the f9 validity
        assert cert.not_valid_after == f9cert.not_valid_after
        with open(t.path("pub-%s.pem" % slot), "rb") as f:
            pub = f.read()
        assert cert.public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo) == pub
    step("attest refuses imported keys and empty slots")
    t.run("-a", "attest", "-s", "83", "-o", t.path("x.pem"), ok=False)
    t.run("-a", "attest", "-s", "8b", "-o", t.path("x.pem"), ok=False)


def check_retries_and_reset(t, env):
    step("pin-retries (needs management key and PIN)")
    t.run("-k" + MGM_DEFAULT, "-a", "verify-pin", "-P", "222222", "-a", "pin-retries",
          "--pin-retries", "5", "--puk-retries", "4")
    assert t.pin_tries() == 5
    t.run("-a", "verify-pin", "-P", "123456")  # back to the factory PIN
    step("reset refused while PIN and PUK work")
    t.run("-a", "reset", ok=False)
    step("block PIN and PUK, then reset")
    for _ in range(5):
        t.run("-a", "verify-pin", "-P", "000000", ok=False)
    for _ in range(4):
        t.run("-a", "unblock-pin", "-P", "00000000", "-N", "333333", ok=False)
    t.run("-a", "reset")
    st = t.status()
    assert "PIN tries left:\t3" in st and "Slot 9a" not in st, st
    t.run("-a", "verify-pin", "-P", "123456")
    t.run("-a", "attest", "-s", "9a", "-o", t.path("x.pem"), ok=False)  # keys are gone
    t.run("-a", "read-certificate", "-s", "f9", "-o", t.path("f9-after.pem"))  # attestation kept
    pub = t.generate("9a", "ECCP256")
    att = t.path("att-after.pem")
    t.run("-a", "attest", "-s", "9a", "-o", att)
    r = openssl("verify", "-CAfile", env.attestation_ca_pem, "-untrusted", t.path("f9-after.pem"), att)
    assert b": OK" in r.stdout, r.stdout
    with open(att, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert cert.public_key().public_bytes(*spki) == pub.public_bytes(*spki)  # the new key


def check_touch(t, env):
    step("touch policy always: the signature waits for a touch")
    t.generate("88", "ECCP256", "--touch-policy", "always")
    write(t.path("d.bin"), b"touch me")
    p = subprocess.Popen(["yubico-piv-tool", "-r", t.reader, "-a", "verify-pin", "-P", "123456",
                          "--sign", "-s", "88", "-A", "ECCP256", "-i", t.path("d.bin"), "-o",
                          t.path("d.sig")], env=t.proc_env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while "waiting_touch=1" not in env.control(0, "status"):
        assert p.poll() is None and time.monotonic() < deadline, "never waited for a touch"
        time.sleep(0.05)
    env.touch(0)
    assert p.wait(30) == 0, p.stderr.read()
    verify_signature(t.path("pub-88.pem"), t.path("d.bin"), t.path("d.sig"))
    step("no touch: the operation fails after the timeout")
    assert t.sign("88", "ECCP256", b"nobody touches", ok=False) is None


def main():
    with PcscEnv(n_keys=1, touch_timeout=2, log_level="debug") as env:
        t = Tool(env)
        check_version_status(t, env)
        keys = check_generate_and_sign(t)
        check_selfsign_and_request(t, env, keys)
        check_import_key(t)
        check_chuid_ccc(t)
        check_attest(t, env)
        check_mgm_key(t, env)
        check_touch(t, env)
        check_pin_counters(t, env)
        check_pin_always(t)
        check_retries_and_reset(t, env)
    print("ok")


if __name__ == "__main__":
    sys.exit(main())
