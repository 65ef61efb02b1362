"""Every artifact lib/x509 builds, for every key type, checked by three independent parsers:
openssl (verify -x509_strict, req -verify, crl -verify, ocsp), GnuTLS (certtool, ocsptool) and
python3-cryptography (fields and signatures). Keys come from `openssl genpkey`; everything else
comes from tests/pki-build/x509_driver, which only calls lib/x509."""
import calendar
import os
import sys
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

from pkitest import run

BUILD = os.environ["PKI_BUILD_DIR"]
DRIVER = os.path.join(BUILD, "tests", "pki-build", "x509_driver")

KEY_TYPES = {
    "rsa2048": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    "rsa3072": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"],
    "rsa4096": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:4096"],
    "p256": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    "p384": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
    "p521": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"],
    "ed25519": ["-algorithm", "ED25519"],
    # RSA keys that sign with another algorithm than the default PKCS#1 v1.5 SHA-256:
    "rsa2048-sha384": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    "rsa2048-pss-sha512": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
}
# RSA also signs with PSS (SHA-256 and SHA-512) and PKCS#1 v1.5 SHA-384, so every RSA encoding
# and more than one hash reach every parser.
EXTRA_ALG = {"rsa3072": "rsassa-pss-sha256", "rsa2048-sha384": "sha384WithRSAEncryption",
             "rsa2048-pss-sha512": "rsassa-pss-sha512"}
# The signatureAlgorithm OID every artifact of a key type must carry (and, for PSS, the hash
# that openssl must read from the parameters, with salt length = hash length).
SIG_OID = {"rsa2048": "1.2.840.113549.1.1.11", "rsa3072": "1.2.840.113549.1.1.10",
           "rsa4096": "1.2.840.113549.1.1.11", "p256": "1.2.840.10045.4.3.2",
           "p384": "1.2.840.10045.4.3.3", "p521": "1.2.840.10045.4.3.4",
           "ed25519": "1.3.101.112", "rsa2048-sha384": "1.2.840.113549.1.1.12",
           "rsa2048-pss-sha512": "1.2.840.113549.1.1.10"}
PSS_HASH = {"rsassa-pss-sha256": hashes.SHA256(), "rsassa-pss-sha512": hashes.SHA512()}
# The PSS hash of the key type under test (set by one_key_type).
current_pss_hash = [hashes.SHA256()]


def driver(*args):
    return run([DRIVER, *args])


def der_to_pem(d, der_path, kind):
    pem = der_path[:-4] + ".pem"
    run(["openssl", kind, "-inform", "der", "-in", der_path, "-out", pem])
    return pem


def verify_sig(pub, sig, data, hash_alg, pss=False):
    """Raises InvalidSignature when the signature is wrong."""
    if isinstance(pub, rsa.RSAPublicKey):
        pad = (padding.PSS(mgf=padding.MGF1(hash_alg), salt_length=hash_alg.digest_size)
               if pss else padding.PKCS1v15())
        pub.verify(sig, data, pad, hash_alg)
    elif isinstance(pub, ec.EllipticCurvePublicKey):
        pub.verify(sig, data, ec.ECDSA(hash_alg))
    elif isinstance(pub, ed25519.Ed25519PublicKey):
        pub.verify(sig, data)
    else:
        raise AssertionError(f"unexpected key {pub!r}")


def pss_hash(cert_or_obj):
    """cryptography 38 has no PSS parameters accessor: the hash we asked for. Verifying with it
    proves the signature used it; openssl checks that the parameters name it."""
    return current_pss_hash[0]


def check_cert_sig(cert, issuer_cert, pss):
    h = cert.signature_hash_algorithm if not pss else pss_hash(cert)
    verify_sig(issuer_cert.public_key(), cert.signature, cert.tbs_certificate_bytes, h, pss)


def one_key_type(d, kt, genargs):
    alg = EXTRA_ALG.get(kt)
    alg_args = ["--alg", alg] if alg else []
    pss = alg is not None and "pss" in alg
    if pss:
        current_pss_hash[0] = PSS_HASH[alg]
    keys = {}
    for role in ("root", "int", "leaf", "resp"):
        keys[role] = os.path.join(d, f"{kt}-{role}.key")
        run(["openssl", "genpkey", *genargs, "-out", keys[role]])
    p = lambda name: os.path.join(d, f"{kt}-{name}")  # noqa: E731

    driver("cert", "--key", keys["root"], "--subject", f"/C=DE/O=Example/CN=Root {kt}", "--ca",
           "--ku", "keyCertSign,cRLSign", "--days", "15000", *alg_args, "--out", p("root.der"))
    driver("cert", "--key", keys["root"], "--issuer", p("root.der"), "--pub", keys["int"],
           "--subject", f"/C=DE/O=Example/OU=Issuing/CN=Issuing {kt}", "--ca", "--pathlen", "0",
           "--ku", "keyCertSign,cRLSign,digitalSignature", "--days", "365",
           "--ocsp", "http://ocsp.example.com/", "--ca-issuers", "http://ca.example.com/root.cer",
           "--crl", "http://crl.example.com/root.crl", *alg_args, "--out", p("int.der"))
    driver("cert", "--key", keys["int"], "--issuer", p("int.der"), "--pub", keys["leaf"],
           "--subject", "CN=www.example.com,O=Example Grüße,C=DE", "--ku", "digitalSignature",
           "--eku", "serverAuth", "--eku", "clientAuth", "--eku", "1.3.6.1.4.1.99999.1",
           "--san", "dns:www.example.com", "--san", "dns:*.example.com", "--san", "ip:192.0.2.7",
           "--san", "ip:2001:db8::7", "--san", "email:admin@example.com",
           "--san", "uri:https://example.com/x", "--san", "upn:user@example.com",
           "--policy", "2.23.140.1.2.2,https://cps.example.com/", "--policy", "1.3.6.1.4.1.99999.2",
           "--ocsp", "http://ocsp.example.com/", "--ca-issuers", "http://ca.example.com/int.cer",
           "--crl", "http://crl.example.com/int.crl", "--serial", "00c0ffee0123456789abcdef",
           *alg_args, "--out", p("leaf.der"))
    driver("cert", "--key", keys["int"], "--issuer", p("int.der"), "--pub", keys["resp"],
           "--subject", "/CN=OCSP responder", "--ku", "digitalSignature", "--eku", "OCSPSigning",
           "--ocsp-nocheck", "--days", "30", *alg_args, "--out", p("resp.der"))

    root, inter, leaf, resp = (der_to_pem(d, p(n + ".der"), "x509")
                               for n in ("root", "int", "leaf", "resp"))

    # openssl: strict chain verification, and the responder certificate too.
    out = run(["openssl", "verify", "-x509_strict", "-CAfile", root, "-untrusted", inter, leaf])
    assert out.stdout.strip().endswith(": OK"), out.stdout
    run(["openssl", "verify", "-x509_strict", "-purpose", "ocsphelper", "-CAfile", root,
         "-untrusted", inter, resp])
    run(["openssl", "verify", "-x509_strict", "-CAfile", root, inter])

    # GnuTLS: parses each certificate, verifies the chain.
    for c in (root, inter, leaf, resp):
        run(["certtool", "--certificate-info", "--infile", c])
    chain = p("chain.pem")
    with open(chain, "w") as f:
        for c in (leaf, inter, root):
            f.write(open(c).read())
    out = run(["certtool", "--verify-chain", "--infile", chain])
    assert "Chain verification output: Verified" in out.stdout, out.stdout
    assert "Not verified" not in out.stdout, out.stdout

    # python3-cryptography: the fields we asked for, and the signatures.
    rc, ic, lc = (x509.load_der_x509_certificate(open(p(n + ".der"), "rb").read())
                  for n in ("root", "int", "leaf"))
    # The root outlives 2049: its notAfter must be GeneralizedTime (RFC 5280 4.1.2.5), the
    # others' UTCTime; openssl prints the raw tag.
    parsed = run(["openssl", "asn1parse", "-in", root]).stdout
    assert "GENERALIZEDTIME" in parsed and "UTCTIME" in parsed, parsed
    assert "GENERALIZEDTIME" not in run(["openssl", "asn1parse", "-in", leaf]).stdout
    assert rc.not_valid_after.year > 2050
    check_cert_sig(rc, rc, pss)
    check_cert_sig(ic, rc, pss)
    check_cert_sig(lc, ic, pss)
    for c in (rc, ic, lc):
        assert c.signature_algorithm_oid.dotted_string == SIG_OID[kt], c.signature_algorithm_oid
    if pss:
        text = run(["openssl", "x509", "-in", leaf, "-noout", "-text"]).stdout
        name = {32: "sha256", 64: "sha512"}[current_pss_hash[0].digest_size]
        assert f"Hash Algorithm: {name}" in text and f"Mask Algorithm: mgf1 with {name}" in text, text
        assert f"Salt Length: 0x{current_pss_hash[0].digest_size:x}" in text, text
    assert lc.serial_number == 0xc0ffee0123456789abcdef
    assert lc.issuer == ic.subject
    assert lc.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Example Grüße"
    assert lc.subject.rfc4514_string() == "CN=www.example.com,O=Example Grüße,C=DE"
    san = lc.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["www.example.com", "*.example.com"]
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["192.0.2.7", "2001:db8::7"]
    assert san.get_values_for_type(x509.RFC822Name) == ["admin@example.com"]
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["https://example.com/x"]
    upn = san.get_values_for_type(x509.OtherName)[0]
    assert upn.type_id.dotted_string == "1.3.6.1.4.1.311.20.2.3"
    assert upn.value == b"\x0c\x10user@example.com"
    bc = ic.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0
    assert not lc.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    ku = ic.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
    eku = lc.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert [o.dotted_string for o in eku] == [ExtendedKeyUsageOID.SERVER_AUTH.dotted_string,
                                              ExtendedKeyUsageOID.CLIENT_AUTH.dotted_string,
                                              "1.3.6.1.4.1.99999.1"]
    ski = ic.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(ic.public_key())
    aki = lc.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    aia = lc.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert [(a.access_method._name, a.access_location.value) for a in aia] == [
        ("OCSP", "http://ocsp.example.com/"), ("caIssuers", "http://ca.example.com/int.cer")]
    dp = lc.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert dp[0].full_name[0].value == "http://crl.example.com/int.crl"
    pol = lc.extensions.get_extension_for_class(x509.CertificatePolicies).value
    assert pol[0].policy_identifier.dotted_string == "2.23.140.1.2.2"
    assert pol[0].policy_qualifiers == ["https://cps.example.com/"]
    assert pol[1].policy_qualifiers is None
    rcert = x509.load_der_x509_certificate(open(p("resp.der"), "rb").read())
    rcert.extensions.get_extension_for_class(x509.OCSPNoCheck)

    # CSR: openssl req -verify, certtool --crq-info, cryptography.
    driver("csr", "--key", keys["leaf"], "--subject", "/C=DE/O=Example/CN=req.example.com",
           "--san", "dns:req.example.com", "--san", "ip:10.0.0.1", "--eku", "serverAuth",
           *alg_args, "--out", p("req.der"))
    req = der_to_pem(d, p("req.der"), "req")
    out = run(["openssl", "req", "-in", req, "-verify", "-noout"])
    assert "verify OK" in (out.stdout + out.stderr)
    out = run(["certtool", "--crq-info", "--infile", req])
    assert "Self signature: verified" in out.stdout, out.stdout
    csr = x509.load_der_x509_csr(open(p("req.der"), "rb").read())
    assert csr.is_signature_valid
    assert csr.signature_algorithm_oid.dotted_string == SIG_OID[kt]
    assert csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value \
        .get_values_for_type(x509.DNSName) == ["req.example.com"]

    # CRL: openssl crl -verify, certtool --crl-info / --verify-crl, cryptography.
    driver("crl", "--key", keys["int"], "--issuer", p("int.der"),
           "--revoke", "00c0ffee0123456789abcdef:1:1700000000", "--revoke", "7f01:4",
           "--random", "50", "--number", "42", "--idp", "http://crl.example.com/int.crl",
           "--only-user", *alg_args, "--out", p("crl.der"))
    crl = der_to_pem(d, p("crl.der"), "crl")
    cafile = p("cas.pem")
    with open(cafile, "w") as f:
        f.write(open(root).read() + open(inter).read())
    out = run(["openssl", "crl", "-in", crl, "-CAfile", cafile, "-verify", "-noout"])
    assert "verify OK" in (out.stdout + out.stderr)
    run(["certtool", "--crl-info", "--infile", crl])
    out = run(["certtool", "--verify-crl", "--load-ca-certificate", inter, "--infile", crl])
    assert "Verified" in out.stdout and "Not verified" not in out.stdout, out.stdout
    cl = x509.load_der_x509_crl(open(p("crl.der"), "rb").read())
    # (cryptography 38's is_signature_valid knows no Ed25519; verify the TBS directly)
    verify_sig(ic.public_key(), cl.signature, cl.tbs_certlist_bytes,
               pss_hash(cl) if pss else cl.signature_hash_algorithm, pss)
    assert len(cl) == 52
    assert cl.signature_algorithm_oid.dotted_string == SIG_OID[kt]
    assert cl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 42
    idp = cl.extensions.get_extension_for_class(x509.IssuingDistributionPoint)
    assert idp.critical and idp.value.only_contains_user_certs
    e = cl.get_revoked_certificate_by_serial_number(0xc0ffee0123456789abcdef)
    assert e.extensions.get_extension_for_class(x509.CRLReason).value.reason == \
        x509.ReasonFlags.key_compromise
    inval = e.extensions.get_extension_for_class(x509.InvalidityDate).value.invalidity_date
    assert calendar.timegm(inval.timetuple()) == 1700000000
    # openssl, given the CRL, rejects the revoked leaf.
    with open(p("cas+crl.pem"), "w") as f:
        f.write(open(cafile).read() + open(crl).read())
    out = run(["openssl", "verify", "-crl_check", "-CAfile", p("cas+crl.pem"), leaf], check=False)
    assert out.returncode != 0 and "certificate revoked" in (out.stdout + out.stderr), out

    # OCSP: openssl builds the request (with nonce); the library answers; openssl checks the
    # nonce and signature, ocsptool and cryptography parse and verify it.
    run(["openssl", "ocsp", "-issuer", inter, "-cert", leaf, "-reqout", p("req.ocsp")])
    oreq = ocsp.load_der_ocsp_request(open(p("req.ocsp"), "rb").read())
    nonce = oreq.extensions.get_extension_for_class(x509.OCSPNonce).value
    nonce_hex = nonce.nonce.hex()
    for signer, extra, status in ((keys["int"], [], "revoked"),
                                  (keys["resp"], ["--responder-cert", p("resp.der")], "good"),
                                  (keys["int"], [], "unknown")):
        rsp = p(f"resp-{status}.ocsp")
        args = ["--reason", "1"] if status == "revoked" else []
        driver("ocsp", "--key", signer, "--issuer", p("int.der"), "--serial",
               format(lc.serial_number, "x").rjust(24, "0"), "--status", status,
               "--nonce", nonce_hex, *extra, *args, *alg_args, "--out", rsp)
        out = run(["openssl", "ocsp", "-reqin", p("req.ocsp"), "-respin", rsp, "-CAfile", root,
                   "-verify_other", inter])
        assert "Response verify OK" in (out.stdout + out.stderr), out
        out = run(["openssl", "ocsp", "-respin", rsp, "-CAfile", root, "-verify_other", inter,
                   "-issuer", inter, "-cert", leaf, "-no_nonce"])
        assert f"{leaf}: {status}" in out.stdout, out.stdout
        out = run(["ocsptool", "--response-info", "--load-response", rsp, "--inder"])
        assert "Response Status: Successful" in out.stdout, out.stdout
        # (GnuTLS 3.7.9's ocsptool reads RSA-PSS parameters of an OCSP response as SHA-256: it
        # prints RSA-PSS-SHA256 for the very AlgorithmIdentifier bytes that certtool reads as
        # SHA-512 in our certificates and CRLs above, and fails the signature. openssl and
        # cryptography verify those responses; ocsptool verifies the SHA-256 PSS ones.)
        if not (pss and current_pss_hash[0].digest_size != 32):
            out = run(["ocsptool", "--verify-response", "--load-response", rsp, "--inder",
                       "--load-signer", inter if not extra else p("resp.pem")], check=False)
            assert out.returncode == 0 and "Verifying OCSP Response: Success" in out.stdout, out
        orsp = ocsp.load_der_ocsp_response(open(rsp, "rb").read())
        assert orsp.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
        assert orsp.serial_number == lc.serial_number
        assert orsp.certificate_status.name.lower() == status
        assert orsp.signature_algorithm_oid.dotted_string == SIG_OID[kt]
        # x509_driver answers with thisUpdate = now - 60, nextUpdate = now + 3600 and, when
        # revoked, revocationTime = now - 7200 with the reason given (wolfSSL reads neither).
        assert (orsp.next_update - orsp.this_update).total_seconds() == 3660
        if status == "revoked":
            assert (orsp.this_update - orsp.revocation_time).total_seconds() == 7140
            assert orsp.revocation_reason == x509.ReasonFlags.key_compromise
        else:
            assert orsp.revocation_time is None and orsp.revocation_reason is None
        assert orsp.responder_key_hash == x509.SubjectKeyIdentifier.from_public_key(
            x509.load_pem_x509_certificate(open(inter if not extra else resp, "rb").read())
            .public_key()).digest
        assert orsp.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce.nonce
        if extra:
            assert orsp.certificates[0].subject == rcert.subject
        signer_cert = rcert if extra else ic
        verify_sig(signer_cert.public_key(), orsp.signature, orsp.tbs_response_bytes,
                   pss_hash(orsp) if pss else orsp.signature_hash_algorithm, pss)
    # The responder path end to end: lib/pkix parses openssl's request, lib/x509 answers it
    # (CertID echoed verbatim, nonce echoed); openssl matches both.
    rsp = p("resp-reqin.ocsp")
    driver("ocsp", "--key", keys["int"], "--issuer", p("int.der"), "--reqin", p("req.ocsp"),
           "--status", "good", *alg_args, "--out", rsp)
    out = run(["openssl", "ocsp", "-reqin", p("req.ocsp"), "-respin", rsp, "-CAfile", root,
               "-verify_other", inter])
    assert "Response verify OK" in (out.stdout + out.stderr), out
    orsp = ocsp.load_der_ocsp_response(open(rsp, "rb").read())
    assert orsp.serial_number == lc.serial_number
    assert orsp.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce.nonce
    print(f"{kt}: chain, CSR, CRL, OCSP accepted by openssl, certtool/ocsptool, cryptography")


def main():
    only = sys.argv[1:] or list(KEY_TYPES)
    with tempfile.TemporaryDirectory() as d:
        for kt in only:
            one_key_type(d, kt, KEY_TYPES[kt])
        # Error statuses: unsigned OCSPResponse with only responseStatus.
        for code, name in ((1, "MALFORMED_REQUEST"), (2, "INTERNAL_ERROR"), (3, "TRY_LATER"),
                           (5, "SIG_REQUIRED"), (6, "UNAUTHORIZED")):
            path = os.path.join(d, f"err{code}.ocsp")
            driver("ocsp-error", str(code), "--out", path)
            r = ocsp.load_der_ocsp_response(open(path, "rb").read())
            assert r.response_status == getattr(ocsp.OCSPResponseStatus, name)
            out = run(["openssl", "ocsp", "-respin", path, "-resp_text", "-noverify"], check=False)
            assert "Responder Error: " in out.stdout and f"({code})" in out.stdout, out.stdout
    print("ok")


if __name__ == "__main__":
    main()
