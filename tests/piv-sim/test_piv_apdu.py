"""piv-sim at the APDU level through pcscd + vpcd (raw PC/SC): management-key authentication with
3DES and AES-128/192/256, GET METADATA, ECDH and RSA decryption checked against
python-cryptography, command and response chaining, status words for malformed and unauthorised
commands, applet selection, persistence across restarts, several keys, and a key pulled out
mid-operation."""

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from pivsim import PcscEnv

SELECT_PIV = bytes.fromhex("00a4040005a000000308")
MGM_DEFAULT = bytes.fromhex("010203040506070801020304050607080102030405060708")


def step(msg):
    print("--", msg, flush=True)


def sw(resp):
    return resp[-2:].hex()


def tlv(tag, value):
    n = len(value)
    if n < 0x80:
        ln = bytes([n])
    elif n < 0x100:
        ln = bytes([0x81, n])
    else:
        ln = bytes([0x82, n >> 8, n & 0xFF])
    return (tag.to_bytes(2, "big") if tag > 0xFF else bytes([tag])) + ln + value


def parse_tlvs(data):
    out, i = {}, 0
    while i < len(data):
        tag = data[i]
        i += 1
        if tag & 0x1F == 0x1F:
            tag = (tag << 8) | data[i]
            i += 1
        n = data[i]
        i += 1
        if n == 0x81:
            n = data[i]
            i += 1
        elif n == 0x82:
            n = (data[i] << 8) | data[i + 1]
            i += 2
        out[tag] = data[i:i + n]
        i += n
    return out


def apdu(ins, p1, p2, data=b"", cla=0):
    return bytes([cla, ins, p1, p2]) + (bytes([len(data)]) + data if data else b"")


def ecb(algo, key, block, decrypt=False):
    cipher = algorithms.TripleDES(key) if algo == 0x03 else algorithms.AES(key)
    c = Cipher(cipher, modes.ECB())
    op = c.decryptor() if decrypt else c.encryptor()
    return op.update(block) + op.finalize()


def transmit_all(s, cmd):
    """Sends cmd, following 61xx with GET RESPONSE; returns (data, sw, number of pieces)."""
    r = s.transmit(cmd)
    data, pieces = r[:-2], 1
    while r[-2] == 0x61:
        r = s.transmit(bytes.fromhex("00c0000000"))
        data += r[:-2]
        pieces += 1
    return data, r[-2:].hex(), pieces


def mgm_auth(s, algo, key, expect_ok=True):
    bl = 8 if algo == 0x03 else 16
    r = s.transmit(apdu(0x87, algo, 0x9B, bytes.fromhex("7c028000")))
    assert sw(r) == "9000", sw(r)
    t = parse_tlvs(parse_tlvs(r[:-2])[0x7C])
    witness = ecb(algo, key, t[0x80], decrypt=True)
    challenge = os.urandom(bl)
    r = s.transmit(apdu(0x87, algo, 0x9B, tlv(0x7C, tlv(0x80, witness) + tlv(0x81, challenge))))
    if not expect_ok:
        assert sw(r) == "6982", sw(r)
        return
    assert sw(r) == "9000", sw(r)
    t = parse_tlvs(parse_tlvs(r[:-2])[0x7C])
    assert t[0x82] == ecb(algo, key, challenge), "card's response to our challenge is wrong"


def verify_pin(s, pin=b"123456"):
    r = s.transmit(apdu(0x20, 0x00, 0x80, pin + b"\xff" * (8 - len(pin))))
    return sw(r)


def check_mgm_algorithms(env):
    with env.session(0) as s:
        s.transmit(SELECT_PIV)
        step("3DES default key; wrong key refused with 6982")
        mgm_auth(s, 0x03, bytes(24), expect_ok=False)
        mgm_auth(s, 0x03, MGM_DEFAULT)
        key = MGM_DEFAULT
        algo = 0x03
        for new_algo, n in ((0x08, 16), (0x0A, 24), (0x0C, 32)):
            step("SET MANAGEMENT KEY to AES-%d and authenticate with it" % (n * 8))
            new = os.urandom(n)
            r = s.transmit(apdu(0xFF, 0xFF, 0xFF, bytes([new_algo, 0x9B, n]) + new))
            assert sw(r) == "9000", sw(r)
            r = s.transmit(apdu(0x87, algo, 0x9B, bytes.fromhex("7c028000")))
            assert sw(r) == "6a86", "old algorithm still accepted: " + sw(r)
            mgm_auth(s, new_algo, os.urandom(n), expect_ok=False)
            mgm_auth(s, new_algo, new)
            r = s.transmit(apdu(0xF7, 0x00, 0x9B))
            md = parse_tlvs(r[:-2])
            assert md[0x01] == bytes([new_algo]) and md[0x05] == b"\x00", md
            key, algo = new, new_algo
        step("single authentication (81 challenge, 82 response)")
        r = s.transmit(apdu(0x87, algo, 0x9B, bytes.fromhex("7c028100")))
        ch = parse_tlvs(parse_tlvs(r[:-2])[0x7C])[0x81]
        r = s.transmit(apdu(0x87, algo, 0x9B, tlv(0x7C, tlv(0x82, ecb(algo, key, ch)))))
        assert sw(r) == "9000", sw(r)
        step("a management key with touch: authentication waits for the touch")
        r = s.transmit(apdu(0xFF, 0xFF, 0xFE, bytes([algo, 0x9B, len(key)]) + key))
        assert sw(r) == "9000", sw(r)
        md = parse_tlvs(s.transmit(apdu(0xF7, 0x00, 0x9B))[:-2])
        assert md[0x02] == b"\x01\x02", md
        timer = threading.Timer(0.5, env.touch, (0,))
        timer.start()
        t0 = time.monotonic()
        mgm_auth(s, algo, key)
        assert time.monotonic() - t0 >= 0.4, "did not wait for the touch"
        timer.join()
        step("back to the default 3DES key")
        r = s.transmit(apdu(0xFF, 0xFF, 0xFF, bytes([0x03, 0x9B, 24]) + MGM_DEFAULT))
        assert sw(r) == "9000"
        r = s.transmit(apdu(0xF7, 0x00, 0x9B))
        assert parse_tlvs(r[:-2])[0x05] == b"\x01"


def check_keys(env):
    with env.session(0) as s:
        s.transmit(SELECT_PIV)
        step("metadata of PIN and PUK")
        md = parse_tlvs(s.transmit(apdu(0xF7, 0x00, 0x80))[:-2])
        assert md[0x01] == b"\xff" and md[0x05] == b"\x01" and md[0x06] == b"\x03\x03", md
        md = parse_tlvs(s.transmit(apdu(0xF7, 0x00, 0x81))[:-2])
        assert md[0x06] == b"\x03\x03", md
        assert sw(s.transmit(apdu(0xF7, 0x00, 0x9A))) == "6a88"  # empty slot
        mgm_auth(s, 0x03, MGM_DEFAULT)

        step("ECDH with a P-256 key in 9d matches python-cryptography")
        r = s.transmit(apdu(0x47, 0x00, 0x9D, bytes.fromhex("ac03800111")))
        assert sw(r) == "9000", sw(r)
        point = parse_tlvs(parse_tlvs(r[:-2])[0x7F49])[0x86]
        card_pub = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        peer = ec.generate_private_key(ec.SECP256R1())
        peer_pt = peer.public_key().public_bytes(serialization.Encoding.X962,
                                                 serialization.PublicFormat.UncompressedPoint)
        ga = apdu(0x87, 0x11, 0x9D, tlv(0x7C, tlv(0x82, b"") + tlv(0x85, peer_pt)))
        assert sw(s.transmit(ga)) == "6982"  # PIN policy once: not verified yet
        assert verify_pin(s) == "9000"
        r = s.transmit(ga)
        assert sw(r) == "9000", sw(r)
        secret = parse_tlvs(parse_tlvs(r[:-2])[0x7C])[0x82]
        assert secret == peer.exchange(ec.ECDH(), card_pub)
        step("ECDH with a point not on the curve is refused")
        bad = b"\x04" + bytes(31) + b"\x01" + bytes(31) + b"\x01"
        assert sw(s.transmit(apdu(0x87, 0x11, 0x9D, tlv(0x7C, tlv(0x82, b"") + tlv(0x85, bad))))) == "6a80"

        step("RSA-2048 in 9a: response chaining on GENERATE, command chaining on DECRYPT")
        data, status, pieces = transmit_all(s, apdu(0x47, 0x00, 0x9A, bytes.fromhex("ac03800107")))
        assert status == "9000" and pieces == 2, (status, pieces)
        pub = parse_tlvs(parse_tlvs(data)[0x7F49])
        n, e = int.from_bytes(pub[0x81], "big"), int.from_bytes(pub[0x82], "big")
        assert n.bit_length() == 2048 and e == 65537
        rsa_pub = rsa.RSAPublicNumbers(e, n).public_key()
        secret = b"the session key"
        ct = rsa_pub.encrypt(secret, padding.PKCS1v15())
        body = tlv(0x7C, tlv(0x82, b"") + tlv(0x81, ct))
        r = s.transmit(bytes([0x10, 0x87, 0x07, 0x9A, 0xFF]) + body[:255])
        assert sw(r) == "9000", sw(r)
        r = s.transmit(apdu(0x87, 0x07, 0x9A, body[255:]))
        data = r[:-2]
        while r[-2] == 0x61:
            r = s.transmit(bytes.fromhex("00c0000000"))
            data += r[:-2]
        assert sw(r) == "9000", sw(r)
        block = parse_tlvs(parse_tlvs(data)[0x7C])[0x82]
        assert len(block) == 256 and block[:2] == b"\x00\x02"
        assert block[block.index(b"\x00", 2) + 1:] == secret
        data, status, pieces = transmit_all(s, apdu(0xF7, 0x00, 0x9A))
        md = parse_tlvs(data)
        assert md[0x01] == b"\x07" and md[0x02] == b"\x02\x01" and md[0x03] == b"\x01", md
        assert parse_tlvs(md[0x04])[0x81] == pub[0x81]


def check_malformed(env):
    step("malformed and out-of-place APDUs get error status words")
    with env.session(0) as s:
        s.transmit(SELECT_PIV)
        cases = [
            # (a 1-byte APDU cannot be sent: vpcd would read it as a control code)
            ("00a404", "6700"), ("00a4040005a000", "6700"),
            ("00a4040002a00000ff", "6700"), ("0000000000ff", "6700"),
            ("80fd000000", "6e00"), ("00ee000000", "6d00"), ("00c0000000", "6985"),
            ("0020008005313233343535", "6a80"), ("0020008108" + "31" * 8, "6a88"),
            ("00cb3fff055c035fc102", "6a82"), ("00cb3f0005" + "5c035fc102", "6a86"),
            ("00cb3fff035c0100", "6a82"), ("00cb3fff025c00", "6a80"),
            ("00db3fff0a5c035fc1025303010203", "6982"),
            ("0047009a05ac03800111", "6982"),
            ("00a4040005a000000999", "6a82"),
            ("00fb000000", "6985"),
            ("00f9820000", "6a88"), ("00870b9a047c028100", "6a86"),
        ]
        for hexcmd, want in cases:
            got = sw(s.transmit(bytes.fromhex(hexcmd)))
            assert got == want, "%s: got %s, want %s" % (hexcmd, got, want)
        step("chaining: a different command in the middle of a chain")
        assert sw(s.transmit(bytes.fromhex("10db3fff035c035f"))) == "9000"
        assert sw(s.transmit(bytes.fromhex("00fd000000"))) == "6883"
        step("after all that the applet still answers")
        assert s.transmit(bytes.fromhex("00fd000000")).hex() == "0504039000"
        step("the management applet deselects PIV")
        assert sw(s.transmit(bytes.fromhex("00a4040008a000000527471117"))) == "9000"
        assert sw(s.transmit(bytes.fromhex("00fd000000"))) == "6d00"
        assert sw(s.transmit(SELECT_PIV)) == "9000"
        assert verify_pin(s, b"000000") == "63c2"
        assert sw(s.transmit(bytes.fromhex("0020008000"))) == "63c2"
        assert verify_pin(s) == "9000"
        assert sw(s.transmit(bytes.fromhex("0020008000"))) == "9000"
        assert sw(s.transmit(bytes.fromhex("0020ff8000"))) == "9000"  # forget the PIN
        assert sw(s.transmit(bytes.fromhex("0020008000"))) == "63c3"


def check_objects_and_cached_touch(env):
    with env.session(0) as s:
        s.transmit(SELECT_PIV)
        step("data objects: PIV-manager admin data, printed information (PIN to read), key history")
        mgm_auth(s, 0x03, MGM_DEFAULT)
        admin = tlv(0x80, tlv(0x81, b"\x01"))
        printed = tlv(0x88, tlv(0x89, os.urandom(24)))
        history = tlv(0xC1, b"\x00") + tlv(0xC2, b"\x00") + tlv(0xFE, b"")
        for oid, value in ((b"\x5f\xff\x00", admin), (b"\x5f\xc1\x09", printed),
                           (b"\x5f\xc1\x0c", history)):
            r = s.transmit(apdu(0xDB, 0x3F, 0xFF, tlv(0x5C, oid) + tlv(0x53, value)))
            assert sw(r) == "9000", sw(r)
        get = lambda oid: s.transmit(apdu(0xCB, 0x3F, 0xFF, tlv(0x5C, oid)))
        assert get(b"\x5f\xff\x00")[:-2] == tlv(0x53, admin)
        assert get(b"\x5f\xc1\x0c")[:-2] == tlv(0x53, history)
        assert sw(get(b"\x5f\xc1\x09")) == "6982"
        assert verify_pin(s) == "9000"
        assert get(b"\x5f\xc1\x09")[:-2] == tlv(0x53, printed)
        assert get(b"\x7e")[:-2].hex() == "7e124f0ba0000003080000100001005f2f024000"
        step("an object of 3063 bytes fits, one byte more does not (6A84); empty value deletes")
        for size, want in ((3063, "9000"), (3064, "6a84")):
            body = tlv(0x5C, b"\x5f\xc1\x0d") + tlv(0x53, os.urandom(size))
            for k in range(0, len(body), 255):
                chunk = body[k:k + 255]
                cla = 0x10 if k + 255 < len(body) else 0x00
                r = s.transmit(bytes([cla, 0xDB, 0x3F, 0xFF, len(chunk)]) + chunk)
            assert sw(r) == want, (size, sw(r))
        data, status, pieces = transmit_all(s, apdu(0xCB, 0x3F, 0xFF, tlv(0x5C, b"\x5f\xc1\x0d")))
        assert status == "9000" and len(data) == 3063 + 4 and pieces == 12, (status, len(data), pieces)
        assert sw(s.transmit(apdu(0xDB, 0x3F, 0xFF, tlv(0x5C, b"\x5f\xc1\x0d") + tlv(0x53, b"")))) == "9000"
        assert sw(s.transmit(apdu(0xCB, 0x3F, 0xFF, tlv(0x5C, b"\x5f\xc1\x0d")))) == "6a82"

        step("touch policy cached: one touch serves signatures for 15 s")
        r = s.transmit(apdu(0x47, 0x00, 0x89, bytes.fromhex("ac06800111ab0103")))
        assert sw(r) == "9000", sw(r)
        md = parse_tlvs(s.transmit(apdu(0xF7, 0x00, 0x89))[:-2])
        assert md[0x02] == b"\x02\x03", md
        env.touch(0)
        sign = apdu(0x87, 0x11, 0x89, tlv(0x7C, tlv(0x82, b"") + tlv(0x81, os.urandom(32))))
        for _ in range(3):
            r = s.transmit(sign)
            assert sw(r) == "9000", sw(r)


def check_slow_card(env):
    step("a slow card (control 'delay'): answers arrive late but intact")
    with env.session(0) as s:
        s.transmit(SELECT_PIV)
        env.delay(0, 250)
        t0 = time.monotonic()
        r = s.transmit(bytes.fromhex("00fd000000"))
        took = time.monotonic() - t0
        env.delay(0, 0)
        assert r.hex() == "0504039000" and took >= 0.24, (r.hex(), took)
        t0 = time.monotonic()
        s.transmit(bytes.fromhex("00fd000000"))
        assert time.monotonic() - t0 < 0.2


def check_persistence_and_several_keys():
    d = tempfile.mkdtemp(prefix="pivsim-persist-")
    try:
        step("three keys: distinct serials, independent slots")
        with PcscEnv(n_keys=3, state_dir=d) as env:
            assert len(set(env.serials)) == 3, env.serials
            serials = list(env.serials)
            with env.session(1) as s:
                s.transmit(SELECT_PIV)
                mgm_auth(s, 0x03, MGM_DEFAULT)
                r = s.transmit(apdu(0x47, 0x00, 0x9E, bytes.fromhex("ac03800114")))
                assert sw(r) == "9000"
                point = parse_tlvs(parse_tlvs(r[:-2])[0x7F49])[0x86]
            for i in (0, 2):
                r = env.apdu(i, SELECT_PIV, apdu(0xF7, 0x00, 0x9E))
                assert sw(r[1]) == "6a88", "key %d sees key 1's slot" % i
            with open(env.attestation_ca_pem) as f:
                ca = f.read()
        step("restart: the keys, serials and attestation CA survive")
        with PcscEnv(n_keys=3, state_dir=d) as env:
            assert env.serials == serials, (env.serials, serials)
            r = env.apdu(1, SELECT_PIV, apdu(0xF7, 0x00, 0x9E))
            md = parse_tlvs(r[1][:-2])
            assert md[0x01] == b"\x14" and parse_tlvs(md[0x04])[0x86] == point
            with open(env.attestation_ca_pem) as f:
                assert f.read() == ca
            step("state at rest is encrypted")
            with open(os.path.join(d, "key1.state"), "rb") as f:
                raw = f.read()
            assert raw.startswith(b"PIVSIM01") and b"123456" not in raw and point not in raw
            assert oct(os.stat(os.path.join(d, "key1.state")).st_mode & 0o777) == "0o600"
            step("a tampered state file is refused with a clear error")
            env.stop()
        with open(os.path.join(d, "key2.state"), "r+b") as f:
            f.seek(40)
            b = f.read(1)
            f.seek(40)
            f.write(bytes([b[0] ^ 1]))
        env3 = PcscEnv(n_keys=3, state_dir=d, start_timeout=5)
        try:
            env3.start()
            raise AssertionError("a tampered state was accepted")
        except Exception as e:  # piv-sim exits with the reason
            assert "cannot be decrypted" in str(e), str(e)
        finally:
            env3.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def check_pulled_out(env):
    step("a key pulled out mid-operation: the client fails, the key comes back fresh")
    tool_env = dict(os.environ)
    tool_env.update(env.env)
    with env.session(0) as s:
        s.transmit(SELECT_PIV)
        mgm_auth(s, 0x03, MGM_DEFAULT)
        r = s.transmit(apdu(0x47, 0x00, 0x9C, bytes.fromhex("ac06800111ab0102")))  # touch always
        assert sw(r) == "9000", sw(r)
    with open(os.path.join(env.state_dir, "d.bin"), "wb") as f:
        f.write(b"never signed")
    p = subprocess.Popen(["yubico-piv-tool", "-r", env.readers[0], "-a", "verify-pin", "-P", "123456",
                          "--sign", "-s", "9c", "-A", "ECCP256", "-i",
                          os.path.join(env.state_dir, "d.bin"), "-o", os.path.join(env.state_dir, "d.sig")],
                         env=tool_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while "waiting_touch=1" not in env.control(0, "status"):
        assert p.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    env.remove(0)
    assert p.wait(30) != 0
    env.insert(0)
    r = env.apdu(0, SELECT_PIV, "0020008000", "00fd000000")
    assert sw(r[1]) == "63c3" and r[2].hex() == "0504039000", [x.hex() for x in r]


def check_blocked_pin(env):
    step("a blocked PIN: VERIFY with the right PIN gets 6983, signing gets 6982; the PUK unblocks")
    with env.session(0) as s:
        s.transmit(SELECT_PIV)
        mgm_auth(s, 0x03, MGM_DEFAULT)
        r = s.transmit(apdu(0x47, 0x00, 0x8C, bytes.fromhex("ac03800111")))  # P-256, PIN once
        assert sw(r) == "9000", sw(r)
        point = parse_tlvs(parse_tlvs(r[:-2])[0x7F49])[0x86]
        pub = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        digest = os.urandom(32)
        sign = apdu(0x87, 0x11, 0x8C, tlv(0x7C, tlv(0x82, b"") + tlv(0x81, digest)))

        def signed(r):
            assert sw(r) == "9000", sw(r)
            sig = parse_tlvs(parse_tlvs(r[:-2])[0x7C])[0x82]
            pub.verify(sig, digest, ec.ECDSA(Prehashed(hashes.SHA256())))  # raises if bad

        assert verify_pin(s) == "9000"
        signed(s.transmit(sign))  # the key works while the PIN does
        for want in ("63c2", "63c1", "63c0"):
            assert verify_pin(s, b"000000") == want
        assert sw(s.transmit(sign)) == "6982"  # a failed VERIFY also ends the verified state
        assert verify_pin(s) == "6983"  # the right PIN changes nothing now
        assert sw(s.transmit(bytes.fromhex("0020008000"))) == "6983"
        assert sw(s.transmit(sign)) == "6982"
        md = parse_tlvs(s.transmit(apdu(0xF7, 0x00, 0x80))[:-2])
        assert md[0x06] == b"\x03\x00", md
        r = s.transmit(apdu(0x2C, 0x00, 0x80, b"12345678" + b"123456\xff\xff"))
        assert sw(r) == "9000", sw(r)
        assert verify_pin(s) == "9000"
        signed(s.transmit(sign))


def main():
    with PcscEnv(n_keys=1, touch_timeout=20) as env:
        check_mgm_algorithms(env)
        check_keys(env)
        check_malformed(env)
        check_objects_and_cached_touch(env)
        check_pulled_out(env)
        check_slow_card(env)
        check_blocked_pin(env)
    check_persistence_and_several_keys()
    print("ok")


if __name__ == "__main__":
    sys.exit(main())
