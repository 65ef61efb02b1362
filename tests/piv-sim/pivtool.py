"""Helpers for the piv-sim tests: running yubico-piv-tool and openssl against a PcscEnv, and
building certificates whose signature comes from a PIV slot (through yubico-piv-tool --sign)."""

import datetime
import os
import subprocess
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

MGM_DEFAULT = "010203040506070801020304050607080102030405060708"


class Tool:
    def __init__(self, env, key=0, workdir=None):
        self.env = env
        self.key = key
        self.reader = env.readers[key]
        self.proc_env = dict(os.environ)
        self.proc_env.update(env.env)
        self.dir = workdir or tempfile.mkdtemp(prefix="pivtool-", dir=env.state_dir)

    def path(self, name):
        return os.path.join(self.dir, name)

    def run(self, *args, ok=True, input=None, timeout=120):
        """yubico-piv-tool on this key's reader; asserts the exit status when ok is True/False."""
        argv = ["yubico-piv-tool", "-r", self.reader] + list(args)
        r = subprocess.run(argv, env=self.proc_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           input=input, timeout=timeout)
        out, err = r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
        if ok is True and r.returncode != 0:
            raise AssertionError("%s failed (%d):\n%s%s" % (" ".join(args), r.returncode, out, err))
        if ok is False and r.returncode == 0:
            raise AssertionError("%s unexpectedly succeeded:\n%s%s" % (" ".join(args), out, err))
        return r.returncode, out, err

    def status(self):
        return self.run("-a", "status")[1]

    def pin_tries(self):
        for line in self.status().splitlines():
            if line.startswith("PIN tries left:"):
                return int(line.split(":")[1])
        raise AssertionError("no PIN tries in status")

    def generate(self, slot, algo, *extra, mgm=MGM_DEFAULT):
        out = self.path("pub-%s.pem" % slot)
        self.run("-k" + mgm, "-a", "generate", "-s", slot, "-A", algo, "-o", out, *extra)
        with open(out, "rb") as f:
            return serialization.load_pem_public_key(f.read())

    def sign(self, slot, algo, data, pin="123456", hash_name="SHA256", ok=True):
        """Signs data with the slot key (yubico-piv-tool --sign); returns the signature."""
        src, sig = self.path("tbs.bin"), self.path("sig.bin")
        with open(src, "wb") as f:
            f.write(data)
        if os.path.exists(sig):
            os.unlink(sig)
        args = ["-a", "verify-pin", "-P", pin] if pin else ["-a", "version"]
        rc, out, err = self.run(*args, "--sign", "-s", slot, "-A", algo, "-H", hash_name,
                                "-i", src, "-o", sig, ok=ok)
        if rc != 0:
            return None
        with open(sig, "rb") as f:
            return f.read()


def openssl(*args, input=None, ok=True):
    r = subprocess.run(["openssl"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       input=input)
    if ok and r.returncode != 0:
        raise AssertionError("openssl %s failed:\n%s%s" % (" ".join(args), r.stdout.decode(),
                                                            r.stderr.decode()))
    return r


def verify_signature(pub_pem_path, data_path, sig_path, digest="-sha256"):
    """openssl dgst -verify: the independent check of a slot signature."""
    r = openssl("dgst", digest, "-verify", pub_pem_path, "-signature", sig_path, data_path)
    assert b"Verified OK" in r.stdout, r.stdout


# -- certificates and CSRs signed by a slot ---------------------------------------------------

def _der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def _der_elements(seq):
    """The raw elements inside a DER SEQUENCE."""
    assert seq[0] == 0x30
    i = 1
    n = seq[i]
    i += 1
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(seq[i:i + k], "big")
        i += k
    body, out, j = seq[i:i + n], [], 0
    while j < len(body):
        l = body[j + 1]
        h = 2
        if l & 0x80:
            k = l & 0x7F
            l = int.from_bytes(body[j + 2:j + 2 + k], "big")
            h = 2 + k
        out.append(body[j:j + h + l])
        j += h + l
    return out


def _throwaway_key(pub):
    if isinstance(pub, rsa.RSAPublicKey):
        return rsa.generate_private_key(65537, pub.key_size)
    return ec.generate_private_key(pub.curve)


def _resign(der, tbs, tool, slot, algo):
    """Replaces the signature of a certificate/CSR DER with one made by the PIV slot."""
    alg = _der_elements(der)[1]
    sig = tool.sign(slot, algo, tbs)
    bits = b"\x03" + _der_len(len(sig) + 1) + b"\x00" + sig
    body = tbs + alg + bits
    return b"\x30" + _der_len(len(body)) + body


def selfsigned_via_slot(tool, slot, algo, pub, cn):
    """A self-signed certificate for the slot's public key, signed by the slot: the structure is
    built with python-cryptography, the signature comes from the card."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(pub)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(_throwaway_key(pub), hashes.SHA256()))
    return _resign(cert.public_bytes(serialization.Encoding.DER), cert.tbs_certificate_bytes,
                   tool, slot, algo)


def csr_via_slot(tool, slot, algo, pub, cn):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    throwaway = _throwaway_key(pub)
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(throwaway, hashes.SHA256())
    # The request must carry the slot's key: rebuild the CertificationRequestInfo with it.
    info = _der_elements(csr.tbs_certrequest_bytes)
    spki = pub.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)
    body = info[0] + info[1] + spki + b"".join(info[3:])
    tbs = b"\x30" + _der_len(len(body)) + body
    return _resign(csr.public_bytes(serialization.Encoding.DER), tbs, tool, slot, algo)
