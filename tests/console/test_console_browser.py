"""The web console in a real browser, from a fresh relay, as a new user walks the guides.

Starts pki-relay (HTTPS, fresh state), takes the one-time set-up link from its log, and runs
walk.mjs (Debian's chromium through playwright-core), which fails on any console error, failed
request or unexpected HTTP error and saves a screenshot of every step under
$PKI_TEST_ARTIFACTS/console/ (default: <build>/test-artifacts/console/). Afterwards this script
checks, through the API and with openssl, what the browser did.
"""
import base64
import hashlib
import json
import os
import re
import sys
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

import pkitest
from pkitest import Daemon, http

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
import browser  # noqa: E402  (tests/harness/browser)

CONFIG = """
state_dir = "{state_dir}"
log_level = "info"
http = {{ listen = "127.0.0.1"; port = {port}; }};
"""


def main():
    artifacts = os.environ.get("PKI_TEST_ARTIFACTS") or os.path.join(pkitest.BUILD_DIR, "test-artifacts")
    os.environ["PKI_TEST_ARTIFACTS"] = artifacts
    out_dir = os.path.join(artifacts, "console")
    os.makedirs(out_dir, exist_ok=True)
    for f in os.listdir(out_dir):
        if f.endswith(".png") or f.endswith(".json"):
            os.remove(os.path.join(out_dir, f))
    with Daemon("pki-relay", CONFIG, scheme="https") as relay:
        m = re.search(r"open (https://\S+/setup#token=\S+)", relay.output())
        assert m, "no set-up link in the relay's log:\n" + relay.output()
        setup_url = m.group(1)
        result_path = os.path.join(out_dir, "result.json")
        work = tempfile.mkdtemp(prefix="console-walk-")
        key = os.path.join(work, "server.key")
        pkitest.run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                     "-subj", "/CN=server.example.com", "-out", os.path.join(work, "server.csr")])
        with open(os.path.join(work, "server.csr")) as f:
            server_csr = f.read()
        # an existing CA (encrypted PKCS#8 key and certificate) made with openssl, to import
        ikey, icert = os.path.join(work, "imp.key"), os.path.join(work, "imp.pem")
        pkitest.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-keyout", ikey, "-out", icert,
                     "-subj", "/CN=Imported Root", "-days", "365", "-passout", "pass:import-secret",
                     "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"])
        browser.run_node(os.path.join(os.path.dirname(__file__), "walk.mjs"), env={
            "IMPORT_KEY": open(ikey).read(), "IMPORT_CERT": open(icert).read(),
            "IMPORT_KEY_PASSWORD": "import-secret",
            "RELAY_URL": relay.url, "SETUP_URL": setup_url, "RESULT_JSON": result_path,
            "SERVER_CSR": server_csr,
        })
        with open(result_path) as f:
            result = json.load(f)
        check_after(relay, result, out_dir)
    print("console browser walk: OK; screenshots in", out_dir)


def check_after(relay, result, out_dir):
    """What the browser did is real: the API shows it, with the token the browser was given."""
    token = result["api_token"]
    assert token.startswith("pkr_"), token
    r = http("GET", relay.url + "/api/v1/me", headers={"Authorization": "Bearer " + token})
    assert r.status == 200 and r.json()["user"]["name"] == "admin", (r.status, r.body)
    r = http("GET", relay.url + "/api/v1/audit?limit=200", headers={"Authorization": "Bearer " + token})
    actions = [e["action"] for e in r.json()["entries"]]
    for want in ("user.setup", "session.login", "session.login_failed", "token.create", "token.delete", "session.logout"):
        assert want in actions, (want, actions)
    shots = sorted(f for f in os.listdir(out_dir) if f.endswith(".png"))
    assert len(shots) >= len(result["steps"]), (shots, result["steps"])
    check_pki(relay, result, token)


def api(relay, token, path):
    r = http("GET", relay.url + "/api/v1" + path, headers={"Authorization": "Bearer " + token})
    assert r.status == 200, (path, r.status, r.body)
    return r


def check_pki(relay, result, token):
    work = tempfile.mkdtemp(prefix="console-check-")
    # the intermediate made through the console chains to the root made through the console
    root = os.path.join(work, "root.pem")
    inter = os.path.join(work, "inter.pem")
    with open(root, "w") as f:
        f.write(result["root_pem"])
    with open(inter, "w") as f:
        f.write(result["intermediate_pem"])
    pkitest.run(["openssl", "verify", "-x509_strict", "-CAfile", root, inter])
    root_ca = api(relay, token, f"/cas/{result['root_ca_id']}").json()
    assert root_ca["cps"] == result["cps_text"] and root_ca["crl_validity_hours"] == 48, root_ca
    issuing = api(relay, token, f"/cas/{result['issuing_ca_id']}").json()
    assert issuing["status"] == "active", issuing

    # Submit CSR + approval with overrides: SANs replaced, 30 days
    certs = api(relay, token, f"/cas/{result['issuing_ca_id']}/certificates?q=server.example.com").json()["certificates"]
    assert len(certs) == 1, certs
    pem = api(relay, token, f"/certificates/{certs[0]['id']}/download?format=pem").body
    cert = x509.load_pem_x509_certificate(pem)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert sorted(sans) == ["example.com", "www.example.com"], sans
    days = (cert.not_valid_after - cert.not_valid_before).days
    assert 29 <= days <= 31, days
    assert certs[0]["status"] == "issued", certs[0]  # held, then taken off hold
    declined = api(relay, token, f"/cas/{result['issuing_ca_id']}/requests?status=declined").json()["requests"]
    assert len(declined) == 1 and declined[0]["params"]["csr_subject"] == "CN=server.example.com", declined
    # the console's downloads: DER is the same certificate, PKCS#7 holds it with its chain
    with open(result["server_der"], "rb") as f:
        assert x509.load_der_x509_certificate(f.read()) == cert
    p7 = pkitest.run(["openssl", "pkcs7", "-inform", "DER", "-in", result["server_p7"], "-print_certs", "-noout"])
    assert "server.example.com" in p7.stdout and "Example Issuing CA" in p7.stdout and "Example Root CA" in p7.stdout, p7.stdout

    # pre-approved request claimed with a browser-made key: the PKCS#12 opens with the password
    p12 = result["p12_file"]
    pw = result["p12_password"]
    info = pkitest.run(["openssl", "pkcs12", "-info", "-in", p12, "-passin", "pass:" + pw, "-noenc"])
    assert "BEGIN PRIVATE KEY" in info.stdout and "CN=alice" in info.stdout.replace(" = ", "="), info.stdout
    bad = pkitest.run(["openssl", "pkcs12", "-info", "-in", p12, "-passin", "pass:wrong", "-noenc"], check=False)
    assert bad.returncode != 0
    with open(p12, "rb") as f:
        key, leaf, chain = pkcs12.load_key_and_certificates(f.read(), pw.encode())
    assert key.key_size == 2048 and key.public_key().public_numbers() == leaf.public_key().public_numbers()
    assert leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "alice"
    emails = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.RFC822Name)
    assert emails == ["alice@example.com"], emails
    assert any("Example Issuing CA" in c.subject.rfc4514_string() for c in chain), [c.subject for c in chain]

    # "the key never leaves the browser": what the claim sent is the token and a CSR for the
    # key that is in the PKCS#12, and none of that key's private parts in any form
    check_claim_sent(result["claim_sent"], key, p12)

    # the public request's key was made in the browser and saved encrypted
    pkitest.run(["openssl", "pkey", "-in", result["public_key_file"], "-passin", "pass:bob-key-password", "-noout"])
    nopw = pkitest.run(["openssl", "pkey", "-in", result["public_key_file"], "-passin", "pass:x", "-noout"], check=False)
    assert nopw.returncode != 0
    # and the certificate the relay issued for that request is for that very key
    bobs = api(relay, token, f"/cas/{result['issuing_ca_id']}/certificates?q=bob").json()["certificates"]
    assert len(bobs) == 1, bobs
    bob = x509.load_pem_x509_certificate(api(relay, token, f"/certificates/{bobs[0]['id']}/download?format=pem").body)
    assert bob.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "bob", bob.subject
    bob_pub = pkitest.run(["openssl", "pkey", "-in", result["public_key_file"], "-passin", "pass:bob-key-password",
                           "-pubout"]).stdout.encode()
    assert serialization.load_pem_public_key(bob_pub).public_numbers() == bob.public_key().public_numbers(), "bob's certificate is not for the browser-made key"
    with open(result["public_key_file"], "rb") as f:
        bob_key = serialization.load_pem_private_key(f.read(), b"bob-key-password")
    check_sent_without_key(result["public_request_sent"], bob_key)

    # the revocation made in the console is in the issuing CA's CRL
    crl_url = issuing["urls"]["crl"]
    r = http("GET", crl_url.replace(re.match(r"https?://[^/]+", crl_url).group(0), relay.url))
    assert r.status == 200, (crl_url, r.status)
    crl = x509.load_der_x509_crl(r.body)
    serial = int(result["revoked_serial"].replace(":", ""), 16)
    entry = crl.get_revoked_certificate_by_serial_number(serial)
    assert entry is not None, result["revoked_serial"]
    # the EAB credential made in the console exists (its HMAC key is never listed again)
    creds = api(relay, token, "/acme/eab").json()["credentials"]
    assert [c["key_id"] for c in creds] == [result["eab_kid"]] and "hmac_key" not in creds[0], creds
    # and the deleted CA is gone
    cas = {c["name"]: c for c in api(relay, token, "/cas").json()["cas"]}
    assert "Scratch" not in cas and "Example Root" in cas, list(cas)
    # the HSM CA made in the console waits for its appliance; its provisioning certificate is
    # signed by the relay's link key, carries the CA's id, and the fingerprint the console showed
    # is the link certificate's SHA-256 (what the appliance asks the operator to confirm)
    hsm = api(relay, token, f"/cas/{result['hsm_ca_id']}").json()
    assert hsm["status"] == "awaiting_appliance" and hsm["key_type"] == "hsm", hsm
    link_pem = http("GET", relay.url + "/api/v1/link/certificate").body
    link_cert = x509.load_pem_x509_certificate(link_pem)
    fp = hashlib.sha256(link_cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    assert result["hsm_fingerprint"] == fp, (result["hsm_fingerprint"], fp)
    assert result["hsm_provisioning"] != result["hsm_provisioning_first"]
    # (openssl, not python3-cryptography: Debian's version cannot load 128-bit OID arcs)
    with tempfile.TemporaryDirectory() as d:
        link_path, prov_path = os.path.join(d, "link.pem"), os.path.join(d, "prov.pem")
        with open(link_path, "wb") as f:
            f.write(link_pem)
        with open(prov_path, "w") as f:
            f.write(result["hsm_provisioning"])
        # (its signature under the link key is checked in link_hsm_relay)
        iss = pkitest.run(["openssl", "x509", "-in", prov_path, "-noout", "-issuer"]).stdout
        link_subj = pkitest.run(["openssl", "x509", "-in", link_path, "-noout", "-subject"]).stdout
        assert iss.split("=", 1)[1] == link_subj.split("=", 1)[1], (iss, link_subj)
        text = pkitest.run(["openssl", "x509", "-in", prov_path, "-noout", "-text"]).stdout
        assert "2.25.121939985752823855590338856841221336458: critical" in text, text
        subj = pkitest.run(["openssl", "x509", "-in", prov_path, "-noout", "-subject"]).stdout
        assert "CN = Example HSM Root CA" in subj, subj
    # the CA imported with an existing (encrypted) key is active with that certificate
    assert cas["Imported"]["status"] == "active" and "Imported Root" in cas["Imported"]["subject"], cas["Imported"]


def strings(v):
    """Every string in a JSON value."""
    if isinstance(v, str):
        yield v
    elif isinstance(v, dict):
        for k, x in v.items():
            yield k
            yield from strings(x)
    elif isinstance(v, list):
        for x in v:
            yield from strings(x)


def decoded(text):
    """text itself and every run of base64 or base64url in it (PEM armour and line breaks
    dropped) decoded at each of the four alignments, so DER inside any of them is seen."""
    out = [text.encode()]
    flat = re.sub(r"-----[A-Z0-9 #]+-----|\s", "", text)
    for run in re.findall(r"[A-Za-z0-9+/_-]{40,}", flat):
        for shift in range(4):
            chunk = run[shift:]
            chunk = chunk[:len(chunk) // 4 * 4].replace("-", "+").replace("_", "/")
            out.append(base64.b64decode(chunk))
    return out


def check_sent_without_key(sent, key):
    """None of the request bodies the browser sent holds the private key: no PEM private key,
    no JWK private member, and none of the key's private numbers (d, p, q, dp, dq, qi) as bytes
    inside any base64 or base64url text (PKCS#8, PKCS#12, JWK), in hex or in decimal."""
    pn = key.private_numbers()
    numbers = (pn.d, pn.p, pn.q, pn.dmp1, pn.dmq1, pn.iqmp)
    for r in sent:
        body = r["body"]
        assert "PRIVATE KEY" not in body, r
        assert not re.search(r'"(d|p|q|dp|dq|qi)"\s*:', body), r
        texts = list(strings(json.loads(body)))
        blobs = [b for t in texts for b in decoded(t)]
        for n in numbers:
            raw = n.to_bytes((n.bit_length() + 7) // 8, "big")[:24]
            assert not any(raw in b for b in blobs), ("a private number of the key was sent", r["path"])
            for t in texts:
                assert format(n, "x")[:40] not in t.lower() and str(n)[:40] not in t, r["path"]


def check_claim_sent(sent, key, p12_path):
    assert [(r["method"], r["path"]) for r in sent] == [("POST", "/api/v1/public/claim")], sent
    body = json.loads(sent[0]["body"])
    assert sorted(body) == ["csr", "token"], sorted(body)
    csr = x509.load_pem_x509_csr(body["csr"].encode())
    assert csr.is_signature_valid
    assert csr.public_key().public_numbers() == key.public_key().public_numbers(), "the claimed CSR is not for the key in the PKCS#12"
    check_sent_without_key(sent, key)
    # nor the PKCS#12 file (its private key bag is encrypted, so look for the file's own bytes)
    with open(p12_path, "rb") as f:
        p12 = f.read()
    blobs = [b for t in strings(body) for b in decoded(t)]
    assert not any(p12[-64:] in b or p12[:64] in b for b in blobs), "the PKCS#12 was sent"


if __name__ == "__main__":
    main()
