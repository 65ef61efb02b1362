"""A man in the middle for the appliance link: a TLS listener the agent dials as its relay URL,
forwarding to the real relay, that can drop, change, record and inject the relay -> agent
WebSocket messages (RFC 6455 framing by hand: stdlib ssl + socket + threads only).

    m = Mitm(relay_port)                # listens on 127.0.0.1:m.port, certificate m.cert_path
    m.arm(lambda msg: None)             # the next sign request is dropped ...
    held = m.wait_hit()                 # ... and returned here
    m.inject(held)                      # a frame of our own to the agent
    m.isolate = True                    # new WebSocket connections are answered by the proxy
                                        # itself and not forwarded (a relay the agent cannot reach)

Plain HTTPS requests (the agent fetching the relay's link certificate at enrolment) are piped
through unchanged. The agent's WebSocket upgrade is passed on without its extension offer, so no
permessage-deflate gets between us and the bytes. What the relay sends is re-framed as one
unmasked binary frame per message; what the agent sends is passed on frame by frame, untouched.

A relay -> agent message counts as a sign request when it is at least SIGN_MIN bytes larger than
the first message of its connection (the relay's small "welcome"); pongs and errors are small,
and the tests sign to-be-signed data of several hundred bytes."""
import base64
import hashlib
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
SIGN_MIN = 200


class _Reader:
    """Buffered exact reads from a socket (the head of an HTTP exchange, then frames)."""

    def __init__(self, sock, buf=b""):
        self.sock, self.buf = sock, buf

    def exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def head(self):
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
            if len(self.buf) > 65536:
                raise ValueError("HTTP head too large")
        i = self.buf.index(b"\r\n\r\n") + 4
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def frame(self):
        """(fin, opcode, payload unmasked, raw bytes of the frame)."""
        h = self.exact(2)
        ln = h[1] & 0x7F
        ext = b""
        if ln == 126:
            ext = self.exact(2)
            ln = int.from_bytes(ext, "big")
        elif ln == 127:
            ext = self.exact(8)
            ln = int.from_bytes(ext, "big")
        mask = self.exact(4) if h[1] & 0x80 else b""
        data = self.exact(ln)
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(data)) if mask else data
        return bool(h[0] & 0x80), h[0] & 0x0F, payload, h + ext + mask + data


def frame(payload, opcode=2):
    """One unmasked final frame (server -> client)."""
    n = len(payload)
    if n < 126:
        h = bytes([0x80 | opcode, n])
    elif n < 65536:
        h = bytes([0x80 | opcode, 126]) + n.to_bytes(2, "big")
    else:
        h = bytes([0x80 | opcode, 127]) + n.to_bytes(8, "big")
    return h + payload


def _header(head, name):
    for line in head.decode("latin-1").split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == name.lower():
            return v.strip()
    return None


def _close(s):
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass


class Conn:
    """One agent WebSocket connection through the proxy."""

    def __init__(self, mitm, agent, relay):
        self.mitm, self.agent, self.relay = mitm, agent, relay
        self.lock = threading.Lock()
        self.from_agent = 0  # messages the agent sent (its hello first)
        self.baseline = None  # length of the relay's first message on this connection
        self.alive = True

    def send_to_agent(self, payload, opcode=2):
        with self.lock:
            self.agent.sendall(frame(payload, opcode))

    def close(self):
        self.alive = False
        _close(self.agent)
        if self.relay:
            _close(self.relay)


class Mitm:
    def __init__(self, relay_port, relay_host="127.0.0.1"):
        self.relay_addr = (relay_host, relay_port)
        self.dir = tempfile.mkdtemp(prefix="wsmitm-")
        self.cert_path = os.path.join(self.dir, "mitm.pem")
        key = os.path.join(self.dir, "mitm.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out",
                        self.cert_path, "-days", "2", "-subj", "/CN=link mitm",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True, timeout=60)
        self.server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server_ctx.load_cert_chain(self.cert_path, key)
        self.client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.client_ctx.check_hostname = False
        self.client_ctx.verify_mode = ssl.CERT_NONE  # the envelope authenticates the relay
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.cond = threading.Condition()
        self.conns = []
        self.isolate = False
        self.armed = None  # one-shot action(msg) -> bytes to deliver, or None to drop
        self.hit = None
        self.seen = []  # every sign request that went through to the agent, in order
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self):
        return f"wss://127.0.0.1:{self.port}/link"

    # ---- what the tests use ----------------------------------------------------------------

    def arm(self, action):
        with self.cond:
            self.armed, self.hit = action, None

    def wait_hit(self, timeout=30):
        with self.cond:
            if not self.cond.wait_for(lambda: self.hit is not None, timeout):
                raise AssertionError("the armed sign request never came through the proxy")
            return self.hit

    def mark(self):
        """A point in the proxy's history: current(newer_than=mark()) ignores connections made
        before it (an agent about to restart)."""
        with self.cond:
            return len(self.conns)

    def current(self, timeout=30, newer_than=0):
        """The live connection on which the agent has spoken (sent its hello)."""
        def live():
            return [c for c in self.conns[newer_than:] if c.alive and c.from_agent > 0]
        with self.cond:
            if not self.cond.wait_for(live, timeout):
                raise AssertionError("no agent connection through the proxy")
            return live()[-1]

    def inject(self, payload, newer_than=0):
        self.current(newer_than=newer_than).send_to_agent(payload)

    def drop_all(self):
        with self.cond:
            conns = list(self.conns)
        for c in conns:
            c.close()

    def close(self):
        self.stopping = True
        _close(self.sock)
        self.drop_all()
        shutil.rmtree(self.dir, ignore_errors=True)

    # ---- the proxy ---------------------------------------------------------------------------

    def _accept(self):
        while not self.stopping:
            try:
                s, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(s,), daemon=True).start()

    def _serve(self, raw):
        relay = None
        try:
            agent = self.server_ctx.wrap_socket(raw, server_side=True)
            ar = _Reader(agent)
            head = ar.head()
            ws = (_header(head, "Upgrade") or "").lower() == "websocket"
            if ws and self.isolate:
                return self._isolated(agent, ar, head)
            relay = self.client_ctx.wrap_socket(socket.create_connection(self.relay_addr, 10))
            if not ws:
                return self._pipe(agent, ar, relay, head)
            lines = [ln for ln in head.decode("latin-1").split("\r\n")
                     if not ln.lower().startswith("sec-websocket-extensions:")]
            relay.sendall("\r\n".join(lines).encode("latin-1"))
            rr = _Reader(relay)
            answer = rr.head()
            agent.sendall(answer)
            if b" 101 " not in answer.split(b"\r\n", 1)[0]:
                return
            conn = Conn(self, agent, relay)
            with self.cond:
                self.conns.append(conn)
            threading.Thread(target=self._agent_to_relay, args=(conn, ar), daemon=True).start()
            self._relay_to_agent(conn, rr)
        except (OSError, EOFError, ValueError, ssl.SSLError):
            pass
        finally:
            _close(raw)
            if relay:
                _close(relay)

    def _pipe(self, agent, ar, relay, head):
        relay.sendall(head + ar.buf)

        def pump(a, b):
            try:
                while True:
                    d = a.recv(65536)
                    if not d:
                        break
                    b.sendall(d)
            except OSError:
                pass
            _close(a)
            _close(b)

        t = threading.Thread(target=pump, args=(relay, agent), daemon=True)
        t.start()
        pump(agent, relay)
        t.join(10)

    def _isolated(self, agent, ar, head):
        """Answer the upgrade ourselves; the agent's messages go nowhere."""
        key = (_header(head, "Sec-WebSocket-Key") or "").encode()
        accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest()).decode()
        agent.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
                       "Sec-WebSocket-Protocol: iothsm-link\r\n\r\n" % accept).encode())
        conn = Conn(self, agent, None)
        with self.cond:
            self.conns.append(conn)
        try:
            while True:
                fin, op, payload, _ = ar.frame()
                if op == 8:
                    break
                if op == 9:
                    conn.send_to_agent(payload, 10)
                elif fin and op in (0, 2):
                    with self.cond:
                        conn.from_agent += 1
                        self.cond.notify_all()
        finally:
            conn.close()
            with self.cond:
                self.cond.notify_all()

    def _agent_to_relay(self, conn, ar):
        try:
            while True:
                fin, op, _, raw = ar.frame()
                conn.relay.sendall(raw)
                if fin and op in (0, 2):
                    with self.cond:
                        conn.from_agent += 1
                        self.cond.notify_all()
                if op == 8:
                    break
        except (OSError, EOFError):
            pass
        conn.close()
        with self.cond:
            self.cond.notify_all()

    def _relay_to_agent(self, conn, rr):
        parts, first_op = [], None
        try:
            while True:
                fin, op, payload, raw = rr.frame()
                if op >= 8:  # control frames pass as they are
                    with conn.lock:
                        conn.agent.sendall(raw)
                    if op == 8:
                        break
                    continue
                if op != 0:
                    first_op = op
                parts.append(payload)
                if not fin:
                    continue
                msg, parts = b"".join(parts), []
                if first_op != 2:
                    conn.send_to_agent(msg, first_op)
                    continue
                self._deliver(conn, msg)
        except (OSError, EOFError):
            pass
        conn.close()
        with self.cond:
            self.cond.notify_all()

    def _deliver(self, conn, msg):
        out = msg
        with self.cond:
            if conn.baseline is None:
                conn.baseline = len(msg)
            elif len(msg) >= conn.baseline + SIGN_MIN:
                if self.armed is not None:
                    action, self.armed = self.armed, None
                    out = action(msg)
                    self.hit = msg
                    self.cond.notify_all()
                if out == msg:
                    self.seen.append(msg)
        if out is not None:
            conn.send_to_agent(out)
