"""piv-sim through Yubico's PKCS#11 module (ykcs11) with OpenSC's pkcs11-tool and OpenSSL's pkcs11
engine: objects listed as a YubiKey shows them, signatures with every key type verified by
openssl, a certificate request and a self-signed certificate made with the card's key."""

import os
import re
import subprocess
import sys

from pivsim import PcscEnv
from pivtool import Tool, openssl, verify_signature

MODULE = "/usr/lib/x86_64-linux-gnu/libykcs11.so"
ENGINE = "/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so"

# slot -> (PKCS#11 id, algorithm, mechanism)
KEYS = {
    "9a": ("01", "RSA2048", "SHA256-RSA-PKCS"),
    "9c": ("02", "ECCP256", "ECDSA-SHA256"),
    "9d": ("03", "ECCP384", "ECDSA-SHA384"),
    "9e": ("04", "ECCP256", "ECDSA-SHA256"),
    "82": ("05", "RSA2048", "SHA256-RSA-PKCS"),
    "95": ("18", "ECCP384", "ECDSA-SHA384"),
}


def step(msg):
    print("--", msg, flush=True)


def p11(env, *args, ok=True):
    e = dict(os.environ)
    e.update(env.env)
    r = subprocess.run(["pkcs11-tool", "--module", MODULE] + list(args), env=e,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=180)
    if ok and r.returncode != 0:
        raise AssertionError("pkcs11-tool %s failed:\n%s%s" % (" ".join(args), r.stdout, r.stderr))
    if ok is False and r.returncode == 0:
        raise AssertionError("pkcs11-tool %s unexpectedly succeeded" % " ".join(args))
    return r


def main():
    with PcscEnv(n_keys=1) as env:
        t = Tool(env)
        for slot, (_, algo, _) in KEYS.items():
            step("generate %s in %s (yubico-piv-tool)" % (algo, slot))
            t.generate(slot, algo)

        step("list slots and objects")
        r = p11(env, "--list-slots")
        assert "YubiKey PIV #%d" % env.serials[0] in r.stdout, r.stdout
        r = p11(env, "--login", "--pin", "123456", "--list-objects")
        objs = r.stdout
        for slot, (pid, _, _) in KEYS.items():
            assert re.search(r"Private Key Object;[^\n]*\n  label:[^\n]*\n  ID:\s+%s\n" % pid, objs), \
                (slot, objs)
            assert "X.509 Certificate for PIV Attestation %s" % slot in objs, (slot, objs)
        assert re.search(r"Private Key Object; EC\s+label:\s+Private key for Digital Signature\s+"
                         r"ID:\s+02\s+Usage:[^\n]*\n\s+Access:\s+always authenticate", objs), objs

        data = os.path.join(t.dir, "p11-data.bin")
        with open(data, "wb") as f:
            f.write(b"signed through PKCS#11")
        for slot, (pid, algo, mech) in KEYS.items():
            step("sign with %s (%s) and verify with openssl" % (slot, mech))
            sig = os.path.join(t.dir, "p11-%s.sig" % slot)
            args = ["--login", "--pin", "123456", "--sign", "--id", pid, "-m", mech, "-i", data,
                    "-o", sig]
            if algo.startswith("ECC"):
                args += ["--signature-format", "openssl"]
            p11(env, *args)
            digest = "-sha384" if mech.endswith("384") else "-sha256"
            verify_signature(t.path("pub-%s.pem" % slot), data, sig, digest)
            # the public key PKCS#11 reports is the one the card generated (pkcs11-tool 0.23
            # cannot export P-384 public keys, so those are read from the attestation certificate
            # that ykcs11 builds them from)
            pub_der = os.path.join(t.dir, "p11-%s.pub" % slot)
            if algo == "ECCP384":
                p11(env, "--read-object", "--type", "cert", "--id", pid, "-o", pub_der)
                a = openssl("x509", "-inform", "DER", "-in", pub_der, "-noout", "-pubkey").stdout
            else:
                p11(env, "--read-object", "--type", "pubkey", "--id", pid, "-o", pub_der)
                a = openssl("pkey", "-pubin", "-inform", "DER", "-in", pub_der, "-outform",
                            "PEM").stdout
            b = openssl("pkey", "-pubin", "-in", t.path("pub-%s.pem" % slot), "-outform", "PEM").stdout
            assert a == b, slot

        step("an imported key (no attestation): ykcs11 finds it through GET METADATA")
        key_pem, pub_pem = t.path("imp83.pem"), t.path("imp83.pub")
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key_pem)
        openssl("pkey", "-in", key_pem, "-pubout", "-out", pub_pem)
        t.run("-k010203040506070801020304050607080102030405060708", "-a", "import-key", "-s", "83",
              "-i", key_pem)
        r = p11(env, "--login", "--pin", "123456", "--list-objects")
        m = re.search(r"Private Key Object; EC\s+label:[^\n]*\n\s+ID:\s+06\n\s+Usage:[^\n]*\n"
                      r"\s+Access:([^\n]*)", r.stdout)
        assert m and "local" not in m.group(1), r.stdout  # imported, so not CKA_LOCAL
        sig = os.path.join(t.dir, "p11-83.sig")
        p11(env, "--login", "--pin", "123456", "--sign", "--id", "06", "-m", "ECDSA-SHA256",
            "--signature-format", "openssl", "-i", data, "-o", sig)
        verify_signature(pub_pem, data, sig)

        step("wrong PIN through PKCS#11 costs a try")
        p11(env, "--login", "--pin", "999999", "--list-objects", ok=False)
        assert t.pin_tries() == 2
        p11(env, "--login", "--pin", "123456", "--list-objects")
        assert t.pin_tries() == 3

        step("openssl + pkcs11 engine + ykcs11: a CSR and a self-signed certificate by the 9a key")
        conf = os.path.join(t.dir, "openssl.cnf")
        with open(conf, "w") as f:
            f.write("openssl_conf = init\n[init]\nengines = engines\n[engines]\npkcs11 = p11\n"
                    "[p11]\nengine_id = pkcs11\ndynamic_path = %s\nMODULE_PATH = %s\ninit = 0\n"
                    "[req]\ndistinguished_name = dn\n[dn]\n" % (ENGINE, MODULE))
        e = dict(os.environ)
        e.update(env.env)
        e["OPENSSL_CONF"] = conf
        key = "pkcs11:id=%01;type=private;pin-value=123456"
        req, cert = os.path.join(t.dir, "engine-req.pem"), os.path.join(t.dir, "engine-cert.pem")
        for args, out in ((["-new"], req), (["-new", "-x509", "-days", "30"], cert)):
            r = subprocess.run(["openssl", "req"] + args + ["-engine", "pkcs11", "-keyform", "engine",
                                                            "-key", key, "-subj", "/CN=engine %s/" % out[-8:-4],
                                                            "-out", out], env=e,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=180)
            assert r.returncode == 0, r.stderr
        r = openssl("req", "-in", req, "-verify", "-noout")
        assert b"verify OK" in r.stdout + r.stderr
        openssl("verify", "-check_ss_sig", "-CAfile", cert, cert)
        a = openssl("x509", "-in", cert, "-noout", "-pubkey").stdout
        b = openssl("pkey", "-pubin", "-in", t.path("pub-9a.pem"), "-outform", "PEM").stdout
        assert a == b
    print("ok")


if __name__ == "__main__":
    sys.exit(main())
