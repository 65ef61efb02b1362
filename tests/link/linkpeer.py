"""A scripted appliance on the link for relay-side tests (test_hsm_relay.py): a WebSocket client
over TLS (RFC 6455 framing by hand, masked frames as a client must send) to the relay's /link,
with the envelopes sealed and opened by tests/link/link_peer.c (lib/link). It can send what a
real agent never would, and answer sign requests with a slot key from a file.

    p = Peer(relay_port, relay_cert_der, workdir)      # new device key, connects
    p.send("enrol", {"token": …})                        # sealed, one binary frame
    kind, head, body = p.recv()                          # ("enrolled", [...], {...})
    p.answer_signatures(slot_key_pem, stop_event)        # a thread answering sign requests
"""
import base64
import json
import os
import select
import socket
import ssl
import subprocess
import threading
import time

import pkitest
from wsmitm import _Reader

TOOL = os.path.join(pkitest.BUILD_DIR, "tests", "link", "link-peer")


def _masked(payload, opcode=2):
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        h = bytes([0x80 | opcode, 0x80 | n])
    elif n < 65536:
        h = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        h = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
    return h + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class Peer:
    def __init__(self, port, relay_cert_der, workdir, name="peer"):
        self.port = port
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.relay_crt = os.path.join(self.dir, "relay.crt")
        with open(self.relay_crt, "wb") as f:
            f.write(relay_cert_der)
        self.name = self._tool("init", self.dir).strip()
        self.sock = None
        self.lock = threading.Lock()
        self.n = 0
        self.connect()

    def _tool(self, *args):
        r = subprocess.run([TOOL, *args], capture_output=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError(f"link-peer {args[0]}: {r.stderr.decode()}")
        return r.stdout.decode()

    def _file(self, stem):
        with self.lock:
            self.n += 1
            return os.path.join(self.dir, f"{stem}.{self.n}")

    def connect(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        s = ctx.wrap_socket(raw)
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall((f"GET /link HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                   "Sec-WebSocket-Protocol: iothsm-link\r\n\r\n").encode())
        self.reader = _Reader(s)
        head = self.reader.head()
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise AssertionError(f"no WebSocket upgrade: {head!r}")
        self.sock = s

    def close(self):
        if self.sock:
            try:
                self.sock.sendall(_masked(b"\x03\xe8", opcode=8))
            except OSError:
                pass
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def send(self, kind, body):
        body_path, out = self._file("body"), self._file("env")
        with open(body_path, "wb") as f:
            f.write(body if isinstance(body, bytes) else json.dumps(body).encode())
        self._tool("seal", self.dir, self.relay_crt, kind, body_path, out)
        with open(out, "rb") as f:
            env = f.read()
        with self.lock:
            self.sock.sendall(_masked(env))

    def recv_raw(self):
        """The next binary message (pings from the relay are not expected: none are sent)."""
        data = b""
        while True:
            fin, op, payload, _ = self.reader.frame()
            if op == 8:
                raise EOFError("relay closed the link")
            if op in (9, 10):
                continue
            data += payload
            if fin:
                return data

    def open(self, env):
        path = self._file("in")
        with open(path, "wb") as f:
            f.write(env)
        head, _, body = self._tool("open", self.dir, self.relay_crt, path).partition("\n")
        return head.split(), path, body.rstrip("\n")

    def recv(self, skip=("sign-request", "pong")):
        """(type, [type, request id, ca, slot], body: JSON object or text) of the next message
        not in skip: a sign request the relay sends on its own (the minutely CRL refresh of an
        HSM CA) while the test waits for an answer is left unanswered."""
        while True:
            head, _, body = self.open(self.recv_raw())
            if head[0] not in skip:
                break
        try:
            body = json.loads(body)
        except ValueError:
            pass
        return head[0], head, body

    def request(self, kind, body):
        self.send(kind, body)
        return self.recv()

    def adopt(self, cert_pem):
        """Signs with cert_pem (the relay's device certificate) from now on."""
        der = ssl.PEM_cert_to_DER_cert(cert_pem)
        path = self._file("adopt")
        with open(path, "wb") as f:
            f.write(der)
        self._tool("adopt", self.dir, self.relay_crt, path)

    def answer(self, env_path, key_path):
        out = self._file("resp")
        self._tool("answer", self.dir, self.relay_crt, env_path, key_path, out)
        with open(out, "rb") as f:
            env = f.read()
        with self.lock:
            self.sock.sendall(_masked(env))

    def serve_signatures(self, key_path, stop, seen):
        """Answers every sign request with the slot key until stop is set or the link closes;
        appends (ca_id, slot, algorithm) of each to seen. Pings the relay every 5 s (it drops an
        appliance silent for 20 s); pongs and anything else are ignored."""
        last_ping = time.monotonic()
        while not stop.is_set():
            if time.monotonic() - last_ping > 5:
                self.send("ping", b"")
                last_ping = time.monotonic()
            if not (self.reader.buf or self.sock.pending()
                    or select.select([self.sock], [], [], 0.2)[0]):
                continue
            try:
                env = self.recv_raw()
            except (OSError, EOFError):
                return
            head, path, body = self.open(env)
            if head[0] == "sign-request":
                seen.append((head[2], head[3], body.split()[0]))
                self.answer(path, key_path)

    def serving(self, key_path):
        """A context manager: sign requests are answered in a thread while it is open; yields
        the list of requests seen."""
        peer = self

        class _Serving:
            def __enter__(self):
                self.stop, self.seen = threading.Event(), []
                self.t = threading.Thread(target=peer.serve_signatures,
                                          args=(key_path, self.stop, self.seen), daemon=True)
                self.t.start()
                return self.seen

            def __exit__(self, *exc):
                self.stop.set()
                self.t.join(30)

        return _Serving()
