"""Generates tests/pki-build/expected_ed25519.h: exact DER that python3-cryptography builds for
a certificate, a CSR, a CRL and an OCSP response with a fixed Ed25519 key (Ed25519 signatures
are deterministic, so the whole structure is). test_x509_build.c builds the same inputs with
lib/x509 and compares byte for byte. Re-run only when the inputs change:

    /usr/bin/python3 tests/pki-build/gen_expected.py > tests/pki-build/expected_ed25519.h
    clang-format -i tests/pki-build/expected_ed25519.h
"""
import datetime
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509 import ocsp
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID

SEED = bytes(range(1, 33))
key = ed25519.Ed25519PrivateKey.from_private_bytes(SEED)
pub = key.public_key()
P = _ASN1Type.PrintableString
U = _ASN1Type.UTF8String


def utc(*a):
    return datetime.datetime(*a)


# Subject "/C=DE/O=Example CA/CN=Test Root Grüße": C and printable values as PrintableString,
# the non-printable one as UTF8String (what lib/x509 chooses).
name = x509.Name([
    x509.NameAttribute(NameOID.COUNTRY_NAME, "DE", P),
    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example CA", P),
    x509.NameAttribute(NameOID.COMMON_NAME, "Test Root Grüße", U),
])
ski = x509.SubjectKeyIdentifier.from_public_key(pub)
upn = x509.OtherName(x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.3"),
                     b"\x0c\x10user@example.com")
cert = (x509.CertificateBuilder()
        .serial_number(0x00c0ffee0102030405060708)
        .issuer_name(name).subject_name(name)
        .not_valid_before(utc(2026, 1, 1, 0, 0, 0))
        .not_valid_after(utc(2050, 1, 1, 0, 0, 0))  # GeneralizedTime from 2050
        .public_key(pub)
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                              x509.ObjectIdentifier("1.3.6.1.4.1.99999.1")]),
                       critical=False)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier(ski.digest, None, None), critical=False)
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("www.example.com"),
            x509.IPAddress(ipaddress.ip_address("192.0.2.1")),
            x509.IPAddress(ipaddress.ip_address("2001:db8::1")),
            x509.RFC822Name("admin@example.com"),
            x509.UniformResourceIdentifier("https://example.com/"),
            upn]), critical=False)
        .add_extension(x509.AuthorityInformationAccess([
            x509.AccessDescription(x509.oid.AuthorityInformationAccessOID.OCSP,
                                   x509.UniformResourceIdentifier("http://ocsp.example.com/")),
            x509.AccessDescription(x509.oid.AuthorityInformationAccessOID.CA_ISSUERS,
                                   x509.UniformResourceIdentifier("http://ca.example.com/ca.cer"))]),
            critical=False)
        .add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
            [x509.UniformResourceIdentifier("http://crl.example.com/ca.crl")], None, None, None)]),
            critical=False)
        .add_extension(x509.CertificatePolicies([
            x509.PolicyInformation(x509.ObjectIdentifier("2.23.140.1.2.1"),
                                   ["https://cps.example.com/"]),
            x509.PolicyInformation(x509.ObjectIdentifier("1.2.3.4"), None)]), critical=False)
        .add_extension(x509.OCSPNoCheck(), critical=False)
        .add_extension(x509.PrecertPoison(), critical=True)
        .sign(key, None))

csr = (x509.CertificateSigningRequestBuilder()
       .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "req.example.com", P)]))
       .add_extension(x509.SubjectAlternativeName([x509.DNSName("req.example.com")]),
                      critical=False)
       .sign(key, None))

crl = (x509.CertificateRevocationListBuilder()
       .issuer_name(name)
       .last_update(utc(2026, 1, 2, 0, 0, 0))
       .next_update(utc(2026, 1, 9, 0, 0, 0))
       .add_revoked_certificate(x509.RevokedCertificateBuilder()
                                .serial_number(0x7f01).revocation_date(utc(2026, 1, 1, 12, 0, 0))
                                .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise),
                                               critical=False)
                                .add_extension(x509.InvalidityDate(utc(2025, 12, 31, 0, 0, 0)),
                                               critical=False)
                                .build())
       .add_revoked_certificate(x509.RevokedCertificateBuilder()
                                .serial_number(0x80).revocation_date(utc(2026, 1, 1, 13, 0, 0))
                                .build())
       .add_extension(x509.AuthorityKeyIdentifier(ski.digest, None, None), critical=False)
       .add_extension(x509.CRLNumber(7), critical=False)
       .add_extension(x509.IssuingDistributionPoint(
           full_name=[x509.UniformResourceIdentifier("http://crl.example.com/ca.crl")],
           relative_name=None, only_contains_user_certs=True, only_contains_ca_certs=False,
           only_some_reasons=None, indirect_crl=False, only_contains_attribute_certs=False),
           critical=True)
       .sign(key, None))

resp = (ocsp.OCSPResponseBuilder()
        .add_response(cert=cert, issuer=cert, algorithm=hashes.SHA1(),
                      cert_status=ocsp.OCSPCertStatus.REVOKED,
                      this_update=utc(2026, 1, 2, 0, 0, 0), next_update=utc(2026, 1, 3, 0, 0, 0),
                      revocation_time=utc(2026, 1, 1, 12, 0, 0),
                      revocation_reason=x509.ReasonFlags.key_compromise)
        .responder_id(ocsp.OCSPResponderEncoding.HASH, cert)
        .add_extension(x509.OCSPNonce(b"0123456789abcdef"), critical=False)
        .certificates([cert])
        .sign(key, None))
produced_at = ocsp.load_der_ocsp_response(
    resp.public_bytes(serialization.Encoding.DER)).produced_at


def arr(label, data):
    out = [f"static const unsigned char {label}[] = {{"]
    for i in range(0, len(data), 16):
        out.append("    " + ", ".join(f"0x{b:02x}" for b in data[i:i + 16]) + ",")
    out.append("};")
    return "\n".join(out)


print("/* Generated by tests/pki-build/gen_expected.py with python3-cryptography; do not edit. */")
print(arr("EXP_SEED", SEED))
print(arr("EXP_CERT", cert.public_bytes(serialization.Encoding.DER)))
print(arr("EXP_CSR", csr.public_bytes(serialization.Encoding.DER)))
print(arr("EXP_CRL", crl.public_bytes(serialization.Encoding.DER)))
print(arr("EXP_OCSP", resp.public_bytes(serialization.Encoding.DER)))
print(f"#define EXP_OCSP_PRODUCED_AT {int(produced_at.replace(tzinfo=datetime.timezone.utc).timestamp())}")
