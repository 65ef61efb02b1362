"""Virtual YubiKeys for tests: a private pcscd with the vpcd driver plus piv-sim instances.

    from pivsim import PcscEnv
    with PcscEnv(n_keys=2) as env:
        subprocess.run(["yubico-piv-tool", "-r", env.readers[0], "-a", "status"],
                       env={**os.environ, **env.env}, check=True)
        env.remove(1); env.insert(1)      # hot-plug key 1
        env.touch(0)                      # a touch for key 0 (touch policy always/cached)

What it runs (all private to the PcscEnv; a system pcscd, if any, is left alone):
  * pcscd -f with its own reader.conf.d (one vpcd entry per two keys on free TCP ports) and its own
    client socket, handed over by socket activation (LISTEN_FDS), so PC/SC clients reach it
    through PCSCLITE_CSOCK_NAME (in env.env). As root, pcscd also gets a private /run/pcscd
    (mount namespace), so its pid file does not touch a system pcscd's.
  * one piv-sim per key, each with its state file, control socket and the shared attestation CA.
Readers are named like a real key: "Yubico YubiKey OTP+FIDO+CCID 00 00" and "… 00 01" for keys 0
and 1, then "Yubico YubiKey OTP+FIDO+CCID 01 00 00", "… 01 00 01" for keys 2 and 3, and so on
(vpcd gives every entry two slots; with an odd n_keys one reader stays empty). Tests that use this register with
RESOURCE_LOCK pcscd.

The module is also a tiny PC/SC client (ctypes on libpcsclite) run in a subprocess, because
libpcsclite reads PCSCLITE_CSOCK_NAME only once per process:
  python3 pivsim.py wait READER present|absent TIMEOUT
  python3 pivsim.py apdu READER HEX [HEX…]     (prints one response per line, in hex)
  python3 pivsim.py session READER             (the same, one APDU per line on stdin)
"""

import ctypes
import ctypes.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pkitest import free_port  # noqa: E402

READER_NAME = "Yubico YubiKey OTP+FIDO+CCID"
VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
SLOTS_PER_READER = 2  # vpcd's compile-time VPCDSLOTS in Debian


class PcscEnvError(RuntimeError):
    pass


def _die_with_parent():
    """preexec_fn: the child gets SIGTERM when the test process dies (even by SIGKILL, as a ctest
    timeout does), so no pcscd or piv-sim outlives its test."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG


def _friendly_name(entry):
    """pcscd appends " 00 <slot>" to a serial reader's name and does not make names unique, so
    every vpcd entry after the first carries its number."""
    return READER_NAME if entry == 0 else "%s %02X" % (READER_NAME, entry)


def _reader_name(i):
    return "%s 00 %02X" % (_friendly_name(i // SLOTS_PER_READER), i % SLOTS_PER_READER)


def _free_port_pair():
    """A TCP port p such that p and p+1 are both free (vpcd listens on base+slot), below the
    ephemeral range so that re-inserting a key finds its port still free."""
    try:
        return free_port(2)
    except RuntimeError as e:
        raise PcscEnvError("no free pair of TCP ports for vpcd") from e


def _find_piv_sim():
    explicit = os.environ.get("PKI_PIVSIM")
    if explicit:
        return explicit
    build = os.environ.get("PKI_BUILD_DIR")
    if build:
        p = os.path.join(build, "tools", "piv-sim", "piv-sim")
        if os.path.exists(p):
            return p
    here = os.path.dirname(os.path.abspath(__file__))
    for b in ("build", "build-pivsim"):
        p = os.path.join(here, "..", "..", b, "tools", "piv-sim", "piv-sim")
        if os.path.exists(p):
            return os.path.abspath(p)
    raise PcscEnvError("piv-sim not found: set PKI_BUILD_DIR or PKI_PIVSIM")


class PcscEnv:
    """pcscd + vpcd + n piv-sim instances. See the module docstring."""

    def __init__(self, n_keys=1, state_dir=None, serials=None, touch_timeout=15,
                 log_level="info", start_timeout=30):
        if n_keys < 1:
            raise ValueError("n_keys must be at least 1")
        self.n_keys = n_keys
        self._own_dir = state_dir is None
        self.state_dir = state_dir
        self._serials_wanted = serials
        self.touch_timeout = touch_timeout
        self.log_level = log_level
        self.start_timeout = start_timeout
        self.readers = []
        self.serials = []
        self.env = {}
        self.attestation_ca_pem = None
        self._pcscd = None
        self._sims = []
        self._ports = []
        self._failed = False

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self._failed = True  # keep the logs for the post-mortem
            sys.stderr.write("pivsim: state and logs kept in %s\n" % self.state_dir)
        self.stop(check=exc_type is None)
        return False

    def start(self):
        if self.state_dir is None:
            self.state_dir = tempfile.mkdtemp(prefix="pivsim-")
        os.makedirs(self.state_dir, exist_ok=True)
        os.chmod(self.state_dir, 0o700)
        self.piv_sim = _find_piv_sim()
        self.sock_path = os.path.join(self.state_dir, "pcscd.comm")
        self.env = {"PCSCLITE_CSOCK_NAME": self.sock_path}
        n_readers = (self.n_keys + SLOTS_PER_READER - 1) // SLOTS_PER_READER
        for attempt in range(5):
            # Another process may take a port between the check and pcscd's bind: then vpcd
            # reports it and we try other ports.
            self._ports = [_free_port_pair() for _ in range(n_readers)]
            self._write_reader_conf()
            self._start_pcscd()
            if "Could not initialize connection to virtual ICC" not in self._log("pcscd.log"):
                break
            self._terminate(self._pcscd)
            self._pcscd = None
        else:
            raise PcscEnvError("vpcd could not listen on its ports:\n" + self._log("pcscd.log"))
        for i in range(self.n_keys):
            self._start_sim(i)
        self.readers = [_reader_name(i) for i in range(self.n_keys)]
        for i in range(self.n_keys):
            self.wait_card(i, True, self.start_timeout)
        self.serials = [int(self._status(i)["serial"]) for i in range(self.n_keys)]
        self.attestation_ca_pem = os.path.join(self.state_dir, "ca", "attestation-ca.pem")

    def _write_reader_conf(self):
        conf = os.path.join(self.state_dir, "reader.conf.d")
        os.makedirs(conf, exist_ok=True)
        drivers = os.path.join(self.state_dir, "drivers")
        for j, port in enumerate(self._ports):
            # vpcd keeps its connections in a static array indexed by slot, so two entries loading
            # the same library would share it: every entry after the first gets its own copy
            # (dlopen tells libraries apart by file).
            lib = VPCD_DRIVER
            if j > 0:
                os.makedirs(drivers, exist_ok=True)
                lib = os.path.join(drivers, "libifdvpcd-%d.so" % j)
                shutil.copyfile(VPCD_DRIVER, lib)
            with open(os.path.join(conf, "vpcd-%d" % j), "w") as f:
                f.write('FRIENDLYNAME "%s"\nDEVICENAME   /dev/null:0x%X\n'
                        "LIBPATH      %s\nCHANNELID    0x%X\n" % (_friendly_name(j), port, lib, port))
        self._conf_dir = conf

    def _start_pcscd(self):
        pcscd = shutil.which("pcscd") or "/usr/sbin/pcscd"
        if not os.path.exists(VPCD_DRIVER):
            raise PcscEnvError("vpcd driver missing (%s): install vsmartcard-vpcd" % VPCD_DRIVER)
        if os.path.exists(self.sock_path):
            os.unlink(self.sock_path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.sock_path)
        os.chmod(self.sock_path, 0o600)
        listener.listen(64)
        # pcscd takes the socket as systemd would pass it: fd 3, LISTEN_FDS=1, LISTEN_PID = its
        # own pid. A python exec wrapper moves the listener to fd 3 (any fd number works) and
        # keeps the pid through exec.
        fd = listener.fileno()
        wrapper = ("import os,sys; fd=int(sys.argv[1]); os.dup2(fd,3); fd!=3 and os.close(fd); "
                   "os.environ['LISTEN_FDS']='1'; os.environ['LISTEN_PID']=str(os.getpid()); "
                   "os.execv(sys.argv[2], sys.argv[2:])")
        cmd = [sys.executable, "-c", wrapper, str(fd), pcscd, "-f", "-i", "-c", self._conf_dir]
        argv = cmd
        if os.geteuid() == 0 and shutil.which("unshare") and self._unshare_works():
            # A private /run/pcscd keeps pcscd's pid file away from a system pcscd.
            script = ('mkdir -p /run/pcscd && mount -t tmpfs -o mode=0755 pcscd-private /run/pcscd'
                      ' && exec "$@"')
            argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"] + cmd
        log = open(os.path.join(self.state_dir, "pcscd.log"), "w")
        env = {k: v for k, v in os.environ.items() if not k.startswith("LISTEN_")}
        self._pcscd = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT, env=env, pass_fds=(fd,),
                                       start_new_session=True, preexec_fn=_die_with_parent)
        log.close()
        listener.close()
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self._pcscd.poll() is not None:
                raise PcscEnvError("pcscd exited (%s):\n%s" % (self._pcscd.returncode, self._log("pcscd.log")))
            if "daemon ready" in self._log("pcscd.log"):
                break
            if time.monotonic() > deadline:
                raise PcscEnvError("pcscd did not start:\n" + self._log("pcscd.log"))
            time.sleep(0.05)

    @staticmethod
    def _unshare_works():
        try:
            return subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  timeout=10).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False

    def _start_sim(self, i):
        port = self._ports[i // SLOTS_PER_READER] + i % SLOTS_PER_READER
        serial = (self._serials_wanted[i] if self._serials_wanted
                  else 31000000 + 1117 * (i + 1) + (os.getpid() % 1000))
        argv = [self.piv_sim, "--state", os.path.join(self.state_dir, "key%d.state" % i),
                "--serial", str(serial), "--vpcd-port", str(port),
                "--control", self._ctl_path(i), "--attestation-ca", os.path.join(self.state_dir, "ca"),
                "--touch-timeout", str(self.touch_timeout), "--log-level", self.log_level]
        log = open(os.path.join(self.state_dir, "piv-sim-%d.log" % i), "a")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True, preexec_fn=_die_with_parent)
        log.close()
        self._sims.append(p)
        deadline = time.monotonic() + self.start_timeout
        while not os.path.exists(self._ctl_path(i)):
            if p.poll() is not None:
                raise PcscEnvError("piv-sim %d exited:\n%s" % (i, self._log("piv-sim-%d.log" % i)))
            if time.monotonic() > deadline:
                raise PcscEnvError("piv-sim %d did not start" % i)
            time.sleep(0.02)

    def stop(self, check=False):
        """Stops everything (idempotent). With check, raises if a process did not exit cleanly or a
        sanitizer reported something."""
        problems = []
        for i, p in enumerate(self._sims):
            rc = self._terminate(p)
            if rc not in (0, None):
                problems.append("piv-sim %d exited with %s" % (i, rc))
        if self._pcscd is not None:
            self._terminate(self._pcscd)
        for i in range(len(self._sims)):
            log = self._log("piv-sim-%d.log" % i)
            if "ERROR: AddressSanitizer" in log or "ERROR: LeakSanitizer" in log or "runtime error:" in log:
                problems.append("sanitizer report in piv-sim-%d.log:\n%s" % (i, log[-4000:]))
        self._sims = []
        self._pcscd = None
        if (self._own_dir and self.state_dir and not problems and not self._failed
                and not os.environ.get("PIVSIM_KEEP")):
            shutil.rmtree(self.state_dir, ignore_errors=True)
        if check and problems:
            raise PcscEnvError("; ".join(problems) + " (state kept in %s)" % self.state_dir)

    @staticmethod
    def _terminate(p):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                return p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
                return "SIGKILL after timeout"
        return p.returncode

    # -- control -----------------------------------------------------------------------------

    def _ctl_path(self, i):
        return os.path.join(self.state_dir, "key%d.ctl" % i)

    def control(self, i, command):
        """Sends one control command to key i; returns the reply line (raises on "error")."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(self._ctl_path(i))
            s.sendall(command.encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(256)
                if not chunk:
                    break
                data += chunk
        reply = data.decode().strip()
        if not reply.startswith("ok"):
            raise PcscEnvError("piv-sim %d: %s -> %s" % (i, command, reply))
        return reply

    def _status(self, i):
        reply = self.control(i, "status")
        return dict(kv.split("=", 1) for kv in reply.split()[1:])

    def remove(self, i, wait=True):
        """Pulls key i out of its reader. With wait, returns once pcscd has seen the card go: its
        reader thread polls every 0.4 s, and a card back before the next poll would look as if it
        never left (after a failed command the reader state would then stay stale)."""
        seen = self._log("pcscd.log").count("Card Removed From " + _reader_name(i))
        was_in = self._status(i).get("inserted") == "1"
        self.control(i, "remove")
        if wait and not was_in:
            self.wait_card(i, False)
        elif wait:
            self.wait_card(i, False)
            deadline = time.monotonic() + 10
            while self._log("pcscd.log").count("Card Removed From " + _reader_name(i)) <= seen:
                if time.monotonic() > deadline:
                    raise PcscEnvError("pcscd did not notice key %d leaving" % i)
                time.sleep(0.05)

    def insert(self, i, wait=True):
        """Plugs key i back in."""
        self.control(i, "insert")
        if wait:
            self.wait_card(i, True)

    def touch(self, i):
        """Touches key i: completes an operation waiting for a touch, or is kept for the next one
        (15 s)."""
        return self.control(i, "touch")

    def delay(self, i, ms):
        """Makes key i a slow card: every answer is held ms milliseconds (0 = normal)."""
        return self.control(i, "delay %d" % int(ms))

    def wait_card(self, i, present, timeout=15):
        """Waits until pcscd reports key i's reader with (or without) a card."""
        self._client("wait", _reader_name(i), "present" if present else "absent", str(timeout))

    def apdu(self, i, *apdus):
        """Sends raw command APDUs (hex strings or bytes) to key i in one PC/SC connection;
        returns the responses as bytes (data + SW)."""
        hexes = [a.hex() if isinstance(a, (bytes, bytearray)) else a for a in apdus]
        out = self._client("apdu", self.readers[i], *hexes)
        lines = out.splitlines()
        if any(line.startswith("error") for line in lines):
            raise PcscEnvError("transmit failed: %s" % out)
        return [bytes.fromhex(line) for line in lines]

    def session(self, i):
        """An open PC/SC connection to key i for raw APDUs, for exchanges that depend on earlier
        answers (challenge-response):
            with env.session(0) as s:
                resp = s.transmit(bytes.fromhex("00a4040005a000000308"))   # data + SW
        """
        return _Session(self, _reader_name(i))

    def _client(self, *args):
        env = dict(os.environ)
        env.update(self.env)
        r = subprocess.run([sys.executable, os.path.abspath(__file__)] + list(args), env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
        if r.returncode != 0:
            raise PcscEnvError("pcsc client %s failed: %s%s\npcscd log:\n%s" % (
                args[0], r.stderr, r.stdout, self._log("pcscd.log")[-3000:]))
        return r.stdout

    def _log(self, name):
        try:
            with open(os.path.join(self.state_dir, name), errors="replace") as f:
                return f.read()
        except OSError:
            return ""


class _Session:
    def __init__(self, env, reader):
        e = dict(os.environ)
        e.update(env.env)
        self._p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "session", reader],
                                   env=e, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def transmit(self, apdu):
        self._p.stdin.write(bytes(apdu).hex() + "\n")
        self._p.stdin.flush()
        line = self._p.stdout.readline().strip()
        if not line or line.startswith("error"):
            raise PcscEnvError("transmit failed: %s" % (line or "session ended"))
        return bytes.fromhex(line)

    def close(self):
        if self._p.poll() is None:
            self._p.stdin.close()
            try:
                self._p.wait(10)
            except subprocess.TimeoutExpired:
                self._p.kill()
                self._p.wait()
        self._p.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


# -- PC/SC client (subprocess side) ----------------------------------------------------------

SCARD_SHARE_SHARED = 2
SCARD_PROTOCOL_T1 = 2
SCARD_LEAVE_CARD = 0
SCARD_STATE_UNAWARE = 0
SCARD_STATE_PRESENT = 0x20
SCARD_E_TIMEOUT = 0x8010000A


class _ReaderState(ctypes.Structure):
    _fields_ = [("szReader", ctypes.c_char_p), ("pvUserData", ctypes.c_void_p),
                ("dwCurrentState", ctypes.c_ulong), ("dwEventState", ctypes.c_ulong),
                ("cbAtr", ctypes.c_ulong), ("rgbAtr", ctypes.c_ubyte * 33)]


class _IoRequest(ctypes.Structure):
    _fields_ = [("dwProtocol", ctypes.c_ulong), ("cbPciLength", ctypes.c_ulong)]


def _lib():
    lib = ctypes.CDLL(ctypes.util.find_library("pcsclite") or "libpcsclite.so.1")
    lib.SCardEstablishContext.argtypes = [ctypes.c_ulong, ctypes.c_void_p, ctypes.c_void_p,
                                          ctypes.POINTER(ctypes.c_long)]
    lib.SCardGetStatusChange.argtypes = [ctypes.c_long, ctypes.c_ulong,
                                         ctypes.POINTER(_ReaderState), ctypes.c_ulong]
    lib.SCardConnect.argtypes = [ctypes.c_long, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_ulong,
                                 ctypes.POINTER(ctypes.c_long), ctypes.POINTER(ctypes.c_ulong)]
    lib.SCardTransmit.argtypes = [ctypes.c_long, ctypes.POINTER(_IoRequest), ctypes.c_char_p,
                                  ctypes.c_ulong, ctypes.c_void_p, ctypes.c_char_p,
                                  ctypes.POINTER(ctypes.c_ulong)]
    lib.SCardDisconnect.argtypes = [ctypes.c_long, ctypes.c_ulong]
    lib.SCardReleaseContext.argtypes = [ctypes.c_long]
    for f in ("SCardEstablishContext", "SCardGetStatusChange", "SCardConnect", "SCardTransmit",
              "SCardDisconnect", "SCardReleaseContext"):
        getattr(lib, f).restype = ctypes.c_long
    return lib


def _check(rc, what):
    if rc != 0:
        raise SystemExit("%s failed: 0x%08X" % (what, rc & 0xFFFFFFFF))


def _client_wait(lib, ctx, reader, want, timeout):
    deadline = time.monotonic() + float(timeout)
    st = _ReaderState()
    st.szReader = reader.encode()
    st.dwCurrentState = SCARD_STATE_UNAWARE
    while True:
        rc = lib.SCardGetStatusChange(ctx, 200, ctypes.byref(st), 1) & 0xFFFFFFFF
        if rc not in (0, SCARD_E_TIMEOUT):
            # the reader may not be known yet right after start
            time.sleep(0.1)
        else:
            present = bool(st.dwEventState & SCARD_STATE_PRESENT)
            if present == (want == "present"):
                return
            st.dwCurrentState = st.dwEventState
        if time.monotonic() > deadline:
            raise SystemExit("reader %r not %s after %ss" % (reader, want, timeout))


def _client_apdu(lib, ctx, reader, apdus, interactive=False):
    card = ctypes.c_long()
    proto = ctypes.c_ulong()
    _check(lib.SCardConnect(ctx, reader.encode(), SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1,
                            ctypes.byref(card), ctypes.byref(proto)), "SCardConnect")
    pci = _IoRequest(SCARD_PROTOCOL_T1, ctypes.sizeof(_IoRequest))
    try:
        for h in (sys.stdin if interactive else apdus):
            cmd = bytes.fromhex(h.strip())
            buf = ctypes.create_string_buffer(65538)
            n = ctypes.c_ulong(len(buf))
            rc = lib.SCardTransmit(card, ctypes.byref(pci), cmd, len(cmd), None, buf, ctypes.byref(n))
            if rc != 0:
                print("error 0x%08X" % (rc & 0xFFFFFFFF), flush=True)
                continue
            print(buf.raw[:n.value].hex(), flush=True)
    finally:
        lib.SCardDisconnect(card, SCARD_LEAVE_CARD)


def _client_main(argv):
    lib = _lib()
    ctx = ctypes.c_long()
    _check(lib.SCardEstablishContext(2, None, None, ctypes.byref(ctx)), "SCardEstablishContext")
    try:
        if argv[0] == "wait":
            _client_wait(lib, ctx, argv[1], argv[2], argv[3])
        elif argv[0] == "apdu":
            _client_apdu(lib, ctx, argv[1], argv[2:])
        elif argv[0] == "session":
            _client_apdu(lib, ctx, argv[1], [], interactive=True)
        else:
            raise SystemExit("unknown command " + argv[0])
    finally:
        lib.SCardReleaseContext(ctx)


if __name__ == "__main__":
    _client_main(sys.argv[1:])
