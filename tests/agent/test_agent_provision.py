"""Provisioning through the agent's JSON API on virtual YubiKeys (pcscd + vpcd + piv-sim):
self-signed roots on generated keys of every type, an intermediate through a CSR signed by an
openssl CA and imported with its chain, imported keys (encrypted PKCS#8 and PKCS#12), attestation,
View Certificate and Clear Slot. Every certificate is checked with openssl, compared with what
`yubico-piv-tool -a read-certificate` reads from the slot, and matched against a signature that
yubico-piv-tool makes with the slot's key."""
import base64
import os
import tempfile

from agentlib import (PIN, Client, agent, expect, keys, make_template, openssl, piv_tool,
                      set_up, slot_of, tmpfile, wait_key)
from pivsim import PcscEnv

KEY_TEXT = {"rsa2048": "Public-Key: (2048 bit)", "ec-p256": "prime256v1",
            "ec-p384": "secp384r1"}


def check_slot_certificate(env, reader, slot, pem, work):
    """The slot holds exactly pem, and the slot's key makes signatures (by yubico-piv-tool)
    that pem's key verifies."""
    r = piv_tool(env, reader, "-a", "read-certificate", "-s", slot)
    assert r.stdout.strip() == pem.strip(), (r.stdout, pem)
    crt = tmpfile(pem, dir=work)
    r = piv_tool(env, reader, "-a", "verify-pin", "-P", PIN, "-a", "test-signature", "-s", slot,
                 "-i", crt)
    text = openssl("x509", "-in", crt, "-noout", "-text").stdout
    is_rsa = "Public Key Algorithm: rsaEncryption" in text
    want = "Successful RSA verification." if is_rsa else "Successful ECDSA verification."
    assert want in r.stdout + r.stderr and "Failed" not in r.stdout + r.stderr, r.stdout + r.stderr


def provision_roots(c, env, serial, work, template):
    for slot, alg in (("9c", "ec-p256"), ("9d", "ec-p384"), ("82", "rsa2048")):
        r = expect(c.post(f"/api/keys/{serial}/slots/{slot}/generate",
                          {"pin": PIN, "algorithm": alg, "pin_policy": "once"}), 200)
        public_key = r.json()["public_key"]
        assert "BEGIN PUBLIC KEY" in public_key
        assert slot_of(c, serial, slot)["state"] == "key_generated"
        r = expect(c.post(f"/api/keys/{serial}/slots/{slot}/provision",
                          {"pin": PIN, "template": template, "mode": "self-signed"}), 200)
        pem = r.json()["certificate"]
        crt = tmpfile(pem, dir=work)
        openssl("verify", "-x509_strict", "-CAfile", crt, crt)
        text = openssl("x509", "-in", crt, "-noout", "-text").stdout
        assert KEY_TEXT[alg] in text, text
        assert "CN = Example HSM CA" in text and "O = Example Org" in text
        assert "CA:TRUE, pathlen:1" in text and "Certificate Sign, CRL Sign" in text
        assert "1.3.6.1.4.1.99999.1" in text
        # validity copied from the template
        tpl = tmpfile(template, dir=work)
        for what in ("-startdate", "-enddate"):
            assert (openssl("x509", "-in", crt, "-noout", what).stdout ==
                    openssl("x509", "-in", tpl, "-noout", what).stdout)
        # the public key is the one generated on the card
        assert openssl("x509", "-in", crt, "-noout", "-pubkey").stdout == public_key
        check_slot_certificate(env, env.readers[0], slot, pem, work)
        view = expect(c.get(f"/api/keys/{serial}/slots/{slot}"), 200).json()
        assert view["state"] == "provisioned" and view["certificate"].strip() == pem.strip()
        assert view["details"]["subject"].startswith("CN=Example HSM CA")
        assert view["key"]["origin"] == "generated"
        assert slot_of(c, serial, slot)["state"] == "provisioned"
        # attestation of a generated key, chained to the simulator's attestation CA
        att = expect(c.post(f"/api/keys/{serial}/slots/{slot}/attest"), 200).json()["certificate"]
        f9 = piv_tool(env, env.readers[0], "-a", "read-certificate", "-s", "f9").stdout
        attf, f9f = tmpfile(att, dir=work), tmpfile(f9, dir=work)
        openssl("verify", "-CAfile", env.attestation_ca_pem, "-untrusted", f9f, attf)
        assert (openssl("x509", "-in", attf, "-noout", "-pubkey").stdout ==
                openssl("x509", "-in", crt, "-noout", "-pubkey").stdout)


def provision_intermediate(c, env, serial, work, template):
    # An offline root made with openssl signs the CSR the card's key made.
    root_key, root_crt = os.path.join(work, "root.key"), os.path.join(work, "root.crt")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", root_key, "-out", root_crt,
            "-days", "7300", "-subj", "/O=Example Org/CN=Offline Root",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    slot = "9e"
    expect(c.post(f"/api/keys/{serial}/slots/{slot}/generate",
                  {"pin": PIN, "algorithm": "ec-p256"}), 200)
    r = expect(c.post(f"/api/keys/{serial}/slots/{slot}/provision",
                      {"pin": PIN, "template": template, "mode": "csr"}), 200)
    assert r.json()["state"] == "csr_pending"
    csr = tmpfile(r.json()["csr"], dir=work)
    openssl("req", "-in", csr, "-noout", "-verify")
    assert "CN = Example HSM CA" in openssl("req", "-in", csr, "-noout", "-subject").stdout
    # half-provisioned: the UI offers "Complete Provisioning"
    assert slot_of(c, serial, slot)["state"] == "csr_pending"
    view = expect(c.get(f"/api/keys/{serial}/slots/{slot}"), 200).json()
    assert view["csr"] == r.json()["csr"]
    signed = os.path.join(work, "inter.crt")
    openssl("x509", "-req", "-in", csr, "-CA", root_crt, "-CAkey", root_key, "-CAcreateserial",
            "-out", signed, "-days", "3650", "-copy_extensions", "copyall")
    with open(signed) as f:
        inter = f.read()
    with open(root_crt) as f:
        root = f.read()
    # without the chain the certificate does not chain to a root
    expect(c.post(f"/api/keys/{serial}/slots/{slot}/certificate",
                  {"pin": PIN, "certificate": inter}), 400, "bad_chain")
    r = expect(c.post(f"/api/keys/{serial}/slots/{slot}/certificate",
                      {"pin": PIN, "certificate": inter, "chain": root}), 200)
    assert r.json()["state"] == "provisioned"
    openssl("verify", "-x509_strict", "-CAfile", root_crt, signed)
    check_slot_certificate(env, env.readers[0], slot, inter, work)
    # a certificate for another key is refused
    other = make_template(tempfile.mkdtemp(dir=work), cn="Someone Else")
    expect(c.post(f"/api/keys/{serial}/slots/{slot}/certificate",
                  {"pin": PIN, "certificate": other}), 400, "key_mismatch")


def provision_imported(c, env, serial, work, template):
    # encrypted PKCS#8, P-384
    key = os.path.join(work, "imp.key")
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", key)
    enc = openssl("pkcs8", "-topk8", "-in", key, "-v2", "aes-256-cbc", "-passout", "pass:s3cret pass").stdout
    expect(c.post(f"/api/keys/{serial}/slots/83/import-key",
                  {"pin": PIN, "key": enc, "password": "wrong"}), 400, "bad_key")
    r = expect(c.post(f"/api/keys/{serial}/slots/83/import-key",
                      {"pin": PIN, "key": enc, "password": "s3cret pass"}), 200)
    assert r.json()["state"] == "key_imported"
    want_pub = openssl("pkey", "-in", key, "-pubout").stdout
    assert r.json()["public_key"] == want_pub
    r = expect(c.post(f"/api/keys/{serial}/slots/83/provision",
                      {"pin": PIN, "template": template, "mode": "self-signed"}), 200)
    pem = r.json()["certificate"]
    crt = tmpfile(pem, dir=work)
    openssl("verify", "-CAfile", crt, crt)
    assert openssl("x509", "-in", crt, "-noout", "-pubkey").stdout == want_pub
    check_slot_certificate(env, env.readers[0], "83", pem, work)
    view = expect(c.get(f"/api/keys/{serial}/slots/83"), 200).json()
    assert view["key"]["origin"] == "imported"
    # PKCS#12 files (P-256 and RSA 2048) with their certificates, then "import a signed
    # certificate"
    for slot, newkey in (("84", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]),
                         ("85", ["-newkey", "rsa:2048"])):
        rkey, rcrt, p12 = (os.path.join(work, f"{slot}{n}") for n in ("p12.key", "p12.crt", "x.p12"))
        openssl("req", "-x509", *newkey, "-nodes", "-keyout", rkey, "-out", rcrt, "-days", "365",
                "-subj", f"/CN=Imported CA {slot}", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        openssl("pkcs12", "-export", "-inkey", rkey, "-in", rcrt, "-out", p12, "-passout", "pass:p12 pass")
        with open(p12, "rb") as f:
            b64 = base64.b64encode(f.read()).decode()
        expect(c.post(f"/api/keys/{serial}/slots/{slot}/import-key",
                      {"pin": PIN, "pkcs12": b64, "password": "nope"}), 400, "bad_password")
        r = expect(c.post(f"/api/keys/{serial}/slots/{slot}/import-key",
                          {"pin": PIN, "pkcs12": b64, "password": "p12 pass"}), 200)
        assert r.json()["public_key"] == openssl("pkey", "-in", rkey, "-pubout").stdout
        with open(rcrt) as f:
            cert = f.read()
        expect(c.post(f"/api/keys/{serial}/slots/{slot}/certificate",
                      {"pin": PIN, "certificate": cert}), 200)
        check_slot_certificate(env, env.readers[0], slot, cert, work)
    # the imported RSA key signs on the card: a self-signed root from it verifies with openssl
    r = expect(c.post(f"/api/keys/{serial}/slots/85/provision",
                      {"pin": PIN, "template": template, "mode": "self-signed"}), 200)
    crt = tmpfile(r.json()["certificate"], dir=work)
    openssl("verify", "-CAfile", crt, crt)
    assert (openssl("x509", "-in", crt, "-noout", "-pubkey").stdout ==
            openssl("pkey", "-in", os.path.join(work, "85p12.key"), "-pubout").stdout)


def clear_slot(c, env, serial):
    expect(c.delete(f"/api/keys/{serial}/slots/84", {"pin": PIN}), 400, "confirm")
    expect(c.delete(f"/api/keys/{serial}/slots/84", {"pin": PIN, "confirm": "84"}), 200)
    view = expect(c.get(f"/api/keys/{serial}/slots/84"), 200).json()
    assert "certificate" not in view and view["state"] in ("empty", "foreign")
    r = piv_tool(env, env.readers[0], "-a", "read-certificate", "-s", "84", check=False)
    assert "BEGIN CERTIFICATE" not in r.stdout
    audit = [e["event"] for e in c.get("/api/audit").json()]
    for ev in ("key_set_up", "key_generated", "provisioned_root", "csr_created",
               "certificate_imported", "key_imported", "slot_cleared"):
        assert ev in audit, (ev, audit)


def check_status_line(d):
    """iothsmctl status (the administrator's view) counts the keys and provisioned slots."""
    import pkitest
    ctl = os.path.join(pkitest.BUILD_DIR, "tools", "iothsmctl", "iothsmctl")

    def line():
        r = pkitest.run([ctl, "--state-dir", d.state_dir, "status"], check=False)
        return r.stdout if "1 YubiKey" in r.stdout and "6 slots provisioned" in r.stdout else None
    from agentlib import wait_for
    out = wait_for(line, timeout=40, what="iothsmctl status with keys and slots")
    assert "running" in out.lower() or "iothsm-agent" in out, out
    # and lists the key with its slots and their states
    assert "9c provisioned" in out and "9e provisioned" in out and "84 empty" not in out, out


def main():
    work = tempfile.mkdtemp(prefix="agent-prov-")
    with PcscEnv(n_keys=1) as env:
        d = agent(env=env.env)
        with d:
            c = Client(d.url)
            c.login()
            serial = env.serials[0]
            wait_key(c, serial)
            k = keys(c)[serial]
            assert k["pin_default"] is True and k["set_up"] is False
            # a factory-fresh key is refused until PIN, PUK and management key are set
            expect(c.post(f"/api/keys/{serial}/slots/9c/generate",
                          {"pin": "123456", "algorithm": "ec-p256"}), 409, "not_set_up")
            set_up(c, serial)
            expect(c.post(f"/api/keys/{serial}/setup", {}), 409, "already_set_up")
            expect(c.get(f"/api/keys/{serial}/slots/f9"), 400, "bad_slot")
            template = make_template(work)
            provision_roots(c, env, serial, work, template)
            provision_intermediate(c, env, serial, work, template)
            provision_imported(c, env, serial, work, template)
            clear_slot(c, env, serial)
            check_status_line(d)
            for secret in (PIN, "s3cret pass", "p12 pass"):
                assert secret not in d.output()
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
