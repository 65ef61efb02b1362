"""A scripted appliance on the link for relay-side tests (test_hsm_relay.py): a WebSocket client
over TLS (RFC 6455 framing by hand, masked frames as a client must send) to the relay's /link,
with the envelopes sealed and opened by tests/link/link_peer.c (lib/link). It can send what a
real agent never would, and answer sign requests with a slot key from a file.

    p = Peer(relay_port, relay_cert_der, workdir)      # new device key, connects
    kind, head, body = p.request("enrol", {...})          # ("enrolled", [...], {...})
    with p.serving(slot_key_pem_path) as seen: ...       # from now on sign requests are answered

A reader thread per connection answers sign requests (once a slot key is given; before that
they are left unanswered), pings the relay every 5 s (it drops an appliance silent for 20 s),
drops pongs and queues everything else for request()/recv(). So a sign request the relay sends
on its own (the minutely CRL refresh of an HSM CA) never gets in the way of an answer the test
waits for, and never waits on a peer that is connected but not looking."""
import base64
import json
import os
import queue
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
        self.lock = threading.Lock()
        self.n = 0
        self.sock = None
        self.thread = None
        self.key_path = None
        self.seen = []
        self.name = self._tool("init", self.dir).strip()
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
        reader = _Reader(s)
        head = reader.head()
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise AssertionError(f"no WebSocket upgrade: {head!r}")
        self.sock, self.reader = s, reader
        self.inbox = queue.Queue()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._read_loop, args=(s, reader, self.inbox,
                                                                     self.stop), daemon=True)
        self.thread.start()

    def close(self):
        if not self.sock:
            return
        self.stop.set()
        try:
            with self.lock:
                self.sock.sendall(_masked(b"\x03\xe8", opcode=8))
        except OSError:
            pass
        self.thread.join(30)
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

    def recv(self, timeout=30):
        """(type, [type, request id, ca, slot], body: JSON object or text) of the next message
        that is not a sign request or a pong."""
        item = self.inbox.get(timeout=timeout)
        if isinstance(item, Exception):
            raise item
        return item

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

    def serving(self, key_path):
        """From now on sign requests are answered with the slot key in key_path (until the peer
        closes); a context manager yielding a fresh list of (ca_id, slot, algorithm) of the
        requests answered inside it."""
        peer = self

        class _Serving:
            def __enter__(self):
                peer.seen = []
                peer.key_path = key_path
                return peer.seen

            def __exit__(self, *exc):
                return False

        return _Serving()

    # ---- the reader thread ----

    def _frame(self, sock, reader):
        data = b""
        while True:
            fin, op, payload, _ = reader.frame()
            if op == 8:
                raise EOFError("relay closed the link")
            if op in (9, 10):
                continue
            data += payload
            if fin:
                return data

    def _open(self, env):
        path = self._file("in")
        with open(path, "wb") as f:
            f.write(env)
        head, _, body = self._tool("open", self.dir, self.relay_crt, path).partition("\n")
        return head.split(), path, body.rstrip("\n")

    def _answer(self, env_path):
        out = self._file("resp")
        self._tool("answer", self.dir, self.relay_crt, env_path, self.key_path, out)
        with open(out, "rb") as f:
            env = f.read()
        with self.lock:
            self.sock.sendall(_masked(env))

    def _read_loop(self, sock, reader, inbox, stop):
        last_ping = time.monotonic()
        try:
            while not stop.is_set():
                if time.monotonic() - last_ping > 5:
                    self.send("ping", b"")
                    last_ping = time.monotonic()
                if not (reader.buf or sock.pending() or select.select([sock], [], [], 0.2)[0]):
                    continue
                head, path, body = self._open(self._frame(sock, reader))
                if head[0] == "sign-request":
                    if self.key_path:
                        self.seen.append((head[2], head[3], body.split()[0]))
                        self._answer(path)
                    continue
                if head[0] == "pong":
                    continue
                try:
                    body = json.loads(body)
                except ValueError:
                    pass
                inbox.put((head[0], head, body))
        except (OSError, EOFError, ValueError) as e:
            if not stop.is_set():
                inbox.put(EOFError(f"link closed: {e}"))
        except AssertionError as e:
            inbox.put(e)
