"""HSM provisioning certificates made in the tests (hsm-contract §1) with python3-cryptography:
the relay's extension encoded by hand (DER), so the agent's checks can be shown against
certificates the relay would never make (signed by another key, naming another relay)."""
import datetime
import hashlib
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

OID = "2.25.121939985752823855590338856841221336458"


def _oid_der(dotted):
    arcs = [int(a) for a in dotted.split(".")]
    body = bytes([arcs[0] * 40 + arcs[1]])
    for a in arcs[2:]:
        chunk = [a & 0x7f]
        a >>= 7
        while a:
            chunk.append(0x80 | (a & 0x7f))
            a >>= 7
        body += bytes(reversed(chunk))
    return bytes([0x06, len(body)]) + body


# Debian's python3-cryptography (38) cannot write 128-bit arcs: certificates are built with a
# placeholder OID of the same length, which is swapped in the TBS before it is signed by hand.
_REAL = _oid_der(OID)
_PLACEHOLDER_DOTTED = "1.3" + ".99" * (len(_REAL) - 3)
_PLACEHOLDER = _oid_der(_PLACEHOLDER_DOTTED)
assert len(_PLACEHOLDER) == len(_REAL)


def _len(n):
    if n < 128:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def _tlv(tag, body):
    return bytes([tag]) + _len(len(body)) + body


def extension_value(link_url, ca_id, kind, token, expires, fingerprint):
    """IothsmProvisioning DER; expires a datetime, fingerprint 32 bytes; kind 0 root, 1 inter."""
    gt = expires.astimezone(datetime.timezone.utc).strftime("%Y%m%d%H%M%SZ").encode()
    return _tlv(0x30, _tlv(0x02, b"\x01") + _tlv(0x16, link_url.encode()) +
                _tlv(0x0c, ca_id.encode()) + _tlv(0x0a, bytes([kind])) +
                _tlv(0x0c, token.encode()) + _tlv(0x18, gt) + _tlv(0x04, fingerprint))


def relay_link_cert(pem):
    """(certificate object, SHA-256 of its DER) of the relay's link certificate PEM."""
    der = ssl.PEM_cert_to_DER_cert(pem)
    return x509.load_der_x509_certificate(der), hashlib.sha256(der).digest()


def make(issuer_cert, signing_key, link_url, fingerprint, ca_id="1", kind=0,
         token="hsm_" + "x" * 40, cn="Test HSM Root", days=3650, expires=None, ext=True):
    """A provisioning certificate PEM: issuer = issuer_cert's subject, signed by signing_key
    (ECDSA P-256), CA template extensions, our extension (critical) unless ext is False."""
    now = datetime.datetime.now(datetime.timezone.utc)
    expires = expires or now + datetime.timedelta(days=1)
    b = (x509.CertificateBuilder()
         .issuer_name(issuer_cert.subject)
         .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Org"),
                                  x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
         .public_key(issuer_cert.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5))
         .not_valid_after(now + datetime.timedelta(days=days))
         .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
         .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                      False), True))
    if ext:
        b = b.add_extension(x509.UnrecognizedExtension(
            x509.ObjectIdentifier(_PLACEHOLDER_DOTTED),
            extension_value(link_url, ca_id, kind, token, expires, fingerprint)), True)
    draft = b.sign(signing_key, hashes.SHA256())
    tbs = draft.tbs_certificate_bytes
    assert tbs.count(_PLACEHOLDER) == (1 if ext else 0)
    tbs = tbs.replace(_PLACEHOLDER, _REAL)
    sig = signing_key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    alg = bytes.fromhex("300a06082a8648ce3d040302")  # ecdsa-with-SHA256
    der = _tlv(0x30, tbs + alg + _tlv(0x03, b"\x00" + sig))
    return ssl.DER_cert_to_PEM_cert(der)


def new_key():
    return ec.generate_private_key(ec.SECP256R1())


def _read(der, pos):
    tag = der[pos]
    n = der[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7f
        n = int.from_bytes(der[pos:pos + k], "big")
        pos += k
    return tag, der[pos:pos + n], pos + n


def _elements(der):
    """(tag, contents, whole element) of each element in a DER region."""
    out, pos = [], 0
    while pos < len(der):
        start = pos
        tag, val, pos = _read(der, pos)
        out.append((tag, val, der[start:pos]))
    return out


def _oid_text(body):
    arcs, v = [], 0
    for b in body:
        v = (v << 7) | (b & 0x7f)
        if not b & 0x80:
            arcs.append(v)
            v = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(map(str, [first, arcs[0] - 40 * first] + arcs[1:]))


def parse(pem):
    """A provisioning certificate PEM walked by hand (Debian's python3-cryptography 38 cannot
    load a certificate with a 128-bit OID arc): {"tbs", "signature" (DER ECDSA), "issuer" (Name
    DER), "critical", and the extension's fields "link_url", "ca_id", "ca_kind", "token",
    "expires", "fingerprint"}, read independently of lib/link."""
    (tag, cert, _), = _elements(ssl.PEM_cert_to_DER_cert(pem))
    (t1, tbs, tbs_raw), (t2, _, _), (t3, sig, _) = _elements(cert)
    assert (tag, t1, t2, t3) == (0x30, 0x30, 0x30, 0x03) and sig[0] == 0
    items = _elements(tbs)
    assert items[0][0] == 0xa0  # v3
    issuer = items[3][2]
    ext_items = [v for t, v, _ in items if t == 0xa3]
    (_, ext_seq, _), = _elements(ext_items[0])
    found = None
    for _, e, _ in _elements(ext_seq):
        parts = _elements(e)
        if _oid_text(parts[0][1]) == OID:
            assert found is None, "extension present twice"
            found = (len(parts) == 3 and parts[1][1] == b"\xff", parts[-1][1])
    critical, value = found
    (tag, body, _), = _elements(value)
    assert tag == 0x30
    fields = _elements(body)
    assert [t for t, _, _ in fields] == [0x02, 0x16, 0x0c, 0x0a, 0x0c, 0x18, 0x04], fields
    v = [val for _, val, _ in fields]
    assert v[0] == b"\x01"
    return {"tbs": tbs_raw, "signature": sig[1:], "issuer": issuer, "critical": critical,
            "link_url": v[1].decode(), "ca_id": v[2].decode(), "ca_kind": v[3][0],
            "token": v[4].decode(), "expires": v[5].decode(), "fingerprint": v[6]}
