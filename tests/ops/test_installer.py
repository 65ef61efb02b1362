"""scripts/setup_ubuntu.sh against a throwaway root (--root): files land with the right owners
and modes, the units verify in the installed layout, the admin password is set through the
agent and never shows in argv, environment, output or any file, a second run changes nothing
and keeps state and password, --uninstall removes the programs and keeps the state, and
--uninstall --purge leaves the root exactly as it was before the first run.
"""
import hashlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

import pkitest
from secretscan import ProcWatcher, scan_text, scan_tree

SETUP = os.path.join(pkitest.SOURCE_DIR, "scripts", "setup_ubuntu.sh")
PASSWORD = "Install-Time-Passw0rd-4711"
OTHER_PASSWORD = "A-Different-Passw0rd-0815"


def seed_root():
    """An empty machine's /etc as far as the installer cares: the account files and their
    backups, as Debian and Ubuntu have them."""
    root = tempfile.mkdtemp(prefix="ops-root-")
    os.chmod(root, 0o755)  # a real / is 0755; the service user must traverse it
    os.makedirs(os.path.join(root, "etc"))
    for name in ("passwd", "group", "shadow", "gshadow"):
        src = os.path.join("/etc", name)
        for dst in (name, name + "-"):
            shutil.copy2(src, os.path.join(root, "etc", dst))
    open(os.path.join(root, "etc", ".pwd.lock"), "w").close()
    os.chmod(os.path.join(root, "etc", ".pwd.lock"), 0o600)
    return root


def snapshot(root, with_mtime=True):
    """{relative path: (type, mode, uid, gid, sha256 of content, mtime)}."""
    snap = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            if stat.S_ISDIR(st.st_mode):
                snap[rel] = ("d", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, None, None)
            elif stat.S_ISLNK(st.st_mode):
                snap[rel] = ("l", 0, st.st_uid, st.st_gid, os.readlink(p), None)
            else:
                with open(p, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
                snap[rel] = ("f", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, digest,
                             st.st_mtime_ns if with_mtime else None)
    return snap


def diff(a, b):
    lines = []
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            lines.append(f"  {k}: {a.get(k)} -> {b.get(k)}")
    return "\n".join(lines)


def accounts(root, name):
    out = {}
    with open(os.path.join(root, "etc", name)) as f:
        for line in f:
            parts = line.rstrip("\n").split(":")
            out[parts[0]] = parts
    return out


def setup(root, *args, stdin=None):
    r = subprocess.run(["bash", SETUP, "--root", root, "--prebuilt", pkitest.BUILD_DIR, *args],
                       capture_output=True, text=True, timeout=300, stdin=stdin or subprocess.DEVNULL)
    return r.returncode, r.stdout + r.stderr


def assert_agent_has_set_password():
    """The installer sets the admin password through `iothsm-agent set-password`: a build
    without it is a failure, not a reason to check less."""
    r = subprocess.run([pkitest.program("iothsm-agent"), "--help"], capture_output=True, text=True)
    assert "set-password" in r.stdout, f"iothsm-agent has no set-password:\n{r.stdout}"


def login_works(root, password, uid, gid):
    """Starts the installed agent on the installed state (as the service user, on a loopback
    port) and logs in through its API."""
    work = tempfile.mkdtemp(prefix="ops-login-")
    os.chmod(work, 0o700)
    shutil.copy(os.path.join(root, "etc/iothsm/tls/ui.key"), os.path.join(work, "ui.key"))
    port = pkitest.free_port()
    conf = os.path.join(work, "agent.conf")
    with open(conf, "w") as f:
        f.write(f'state_dir = "{root}/var/lib/iothsm";\n'
                f'http = {{ listen = "127.0.0.1"; port = {port}; '
                f'tls_cert = "{root}/etc/iothsm/tls/ui.crt"; tls_key = "{work}/ui.key"; }};\n')
    for dp, ds, fs in os.walk(work):
        for n in ds + fs + [""]:
            os.chown(os.path.join(dp, n), uid, gid)
    log = open(os.path.join(work, "log"), "wb")
    p = subprocess.Popen(["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
                          os.path.join(root, "usr/sbin/iothsm-agent"), "--config", conf],
                         stdout=log, stderr=subprocess.STDOUT)
    try:
        pkitest.wait_for_port(port, timeout=30, proc=p)
        url = f"https://127.0.0.1:{port}/api/login"
        return pkitest.http("POST", url, body={"password": password}).status == 200
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=20)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def check_layout(root):
    users = accounts(root, "passwd")
    groups = accounts(root, "group")
    for u in ("iothsm", "pki-relay"):
        assert u in users and u in groups, f"user {u} missing"
        assert int(users[u][2]) < 1000, f"{u} is not a system user: {users[u]}"
        assert users[u][6].endswith("nologin"), f"{u} can log in: {users[u]}"
    uid = {n: int(v[2]) for n, v in users.items()}
    gid = {n: int(v[2]) for n, v in groups.items()}
    expected = [
        # path, kind, mode, owner, group
        ("usr/sbin/iothsm-agent", "f", 0o755, "root", "root"),
        ("usr/sbin/pki-relay", "f", 0o755, "root", "root"),
        ("usr/sbin/iothsmctl", "f", 0o755, "root", "root"),
        ("usr/lib/systemd/system/iothsm-agent.service", "f", 0o644, "root", "root"),
        ("usr/lib/systemd/system/pki-relay.service", "f", 0o644, "root", "root"),
        ("usr/lib/sysusers.d/pkiaas.conf", "f", 0o644, "root", "root"),
        ("usr/share/polkit-1/rules.d/60-iothsm-pcscd.rules", "f", 0o644, "root", "root"),
        ("etc/iothsm", "d", 0o750, "root", "iothsm"),
        ("etc/iothsm/agent.conf", "f", 0o640, "root", "iothsm"),
        ("etc/iothsm/tls/ui.crt", "f", 0o644, "root", "root"),
        ("etc/iothsm/tls/ui.key", "f", 0o600, "root", "root"),
        ("etc/iothsm/credentials", "d", 0o700, "root", "root"),
        ("etc/iothsm/credentials/master.key", "f", 0o600, "root", "root"),
        ("var/lib/iothsm", "d", 0o700, "iothsm", "iothsm"),
        ("etc/pki-relay", "d", 0o750, "root", "pki-relay"),
        ("etc/pki-relay/relay.conf", "f", 0o640, "root", "pki-relay"),
        ("etc/pki-relay/credentials/master.key", "f", 0o600, "root", "root"),
        ("var/lib/pki-relay", "d", 0o700, "pki-relay", "pki-relay"),
    ]
    for rel, kind, mode, owner, group in expected:
        p = os.path.join(root, rel)
        assert os.path.lexists(p), f"/{rel} was not installed"
        st = os.lstat(p)
        assert (stat.S_ISDIR(st.st_mode) if kind == "d" else stat.S_ISREG(st.st_mode)), rel
        assert stat.S_IMODE(st.st_mode) == mode, f"/{rel}: mode {oct(st.st_mode)} != {oct(mode)}"
        assert st.st_uid == uid[owner] and st.st_gid == gid[group], \
            f"/{rel}: owner {st.st_uid}:{st.st_gid}, want {owner}:{group}"
    for src, dest in (("webui/agent", "usr/share/iothsm/webui"),
                      ("webui/console", "usr/share/pki-relay/console")):
        if os.path.exists(os.path.join(pkitest.SOURCE_DIR, src, "index.html")):
            assert os.path.isfile(os.path.join(root, dest, "index.html")), f"/{dest} missing"
    for key in ("etc/iothsm/credentials/master.key", "etc/pki-relay/credentials/master.key"):
        assert os.path.getsize(os.path.join(root, key)) == 32, key
    # The UI certificate is valid, for localhost, and matches its key.
    crt, key = os.path.join(root, "etc/iothsm/tls/ui.crt"), os.path.join(root, "etc/iothsm/tls/ui.key")
    text = pkitest.run(["openssl", "x509", "-in", crt, "-noout", "-text", "-checkend", "86400"]).stdout
    assert "DNS:localhost" in text and "IP Address:127.0.0.1" in text, text
    pub_c = pkitest.run(["openssl", "x509", "-in", crt, "-noout", "-pubkey"]).stdout
    pub_k = pkitest.run(["openssl", "pkey", "-in", key, "-pubout"]).stdout
    assert pub_c == pub_k, "the UI certificate does not match its key"
    # The installed configs are valid for the installed programs.
    pkitest.run([os.path.join(root, "usr/sbin/iothsm-agent"), "--config",
                 os.path.join(root, "etc/iothsm/agent.conf"), "--check-config"])
    pkitest.run([os.path.join(root, "usr/sbin/pki-relay"), "--config",
                 os.path.join(root, "etc/pki-relay/relay.conf"), "--check-config"])
    return uid["iothsm"], gid["iothsm"]


def verify_units_in(root):
    """systemd-analyze verify on a copy of the installed root (the stock targets added)."""
    copy = tempfile.mkdtemp(prefix="ops-verify-")
    try:
        shutil.copytree(root, copy, symlinks=True, dirs_exist_ok=True)
        sysdir = os.path.join(copy, "usr/lib/systemd/system")
        for name in os.listdir("/usr/lib/systemd/system"):
            src = os.path.join("/usr/lib/systemd/system", name)
            if name.endswith((".target", ".socket", ".slice")) and os.path.isfile(src) \
                    and not os.path.islink(src):
                shutil.copy(src, sysdir)
        for unit in ("iothsm-agent.service", "pki-relay.service"):
            r = subprocess.run(["systemd-analyze", "verify", f"--root={copy}", unit],
                               capture_output=True, text=True, timeout=60)
            out = (r.stdout + r.stderr).strip()
            assert r.returncode == 0 and not out, f"verify {unit} in the installed root: {out}"
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def main():
    root = seed_root()
    work = tempfile.mkdtemp(prefix="ops-installer-")
    pw1, pw2 = os.path.join(work, "pw1"), os.path.join(work, "pw2")
    for path, text in ((pw1, PASSWORD), (pw2, OTHER_PASSWORD)):
        with open(path, "w") as f:
            f.write(text + "\n")
        os.chmod(path, 0o600)
    secrets = [PASSWORD.encode(), OTHER_PASSWORD.encode()]
    ok = False
    try:
        seed = snapshot(root)

        # Refusals change nothing.
        rc, out = setup(root, "--password", PASSWORD)
        assert rc != 0 and "never taken from the command line" in out, out
        rc, out = setup(root, "--password-file", os.path.join(work, "missing"))
        assert rc != 0 and "cannot read the password file" in out, out
        rc, out = setup(root)  # no terminal, no file: cannot ask
        assert rc != 0 and "--password-file" in out, out
        assert snapshot(root) == seed, "a refused run changed:\n" + diff(seed, snapshot(root))

        # First install, watched: the password must not appear in any process's argv or env.
        with ProcWatcher(secrets) as watch:
            rc, out = setup(root, "--password-file", pw1)
        print(out)
        assert rc == 0, out
        print(f"/proc scanned {watch.scans} times while installing; {len(watch.pids_seen)} pids seen")
        assert not watch.hits, f"the password showed in /proc: {watch.hits}"
        assert not scan_text(out, secrets), "the password is in the installer's output"
        assert "https://" in out and ":8444/" in out, "no URL printed"
        uid, gid = check_layout(root)
        verify_units_in(root)
        leaked = scan_tree(root, secrets)
        assert not leaked, f"the password is stored in clear: {leaked}"

        assert_agent_has_set_password()
        assert "admin password set" in out, out
        assert os.path.exists(os.path.join(root, "etc/iothsm/.admin-password-set"))
        state = os.listdir(os.path.join(root, "var/lib/iothsm"))
        assert state, "set-password left no state"
        for name in state:
            st = os.stat(os.path.join(root, "var/lib/iothsm", name))
            assert st.st_uid == uid, f"/var/lib/iothsm/{name} is not owned by iothsm"
        assert login_works(root, PASSWORD, uid, gid), "cannot log in with the installed password"

        # Second run, as an automation would repeat it (even with another password file):
        # nothing changes, not even a timestamp; state and password are kept.
        before = snapshot(root)
        rc, out2 = setup(root, "--password-file", pw2)
        assert rc == 0, out2
        assert "already set: keeping it" in out2, out2
        after = snapshot(root)
        assert after == before, "the second run changed:\n" + diff(before, after)
        assert login_works(root, PASSWORD, uid, gid), "the password changed on upgrade"
        assert not login_works(root, OTHER_PASSWORD, uid, gid)
        print("second run: no change")

        # The documented way to change the password non-interactively.
        with ProcWatcher(secrets) as watch:
            rc, out = setup(root, "--reset-password", "--password-file", pw2)
        assert rc == 0 and "admin password set" in out, out
        assert not watch.hits, f"the new password showed in /proc: {watch.hits}"
        assert login_works(root, OTHER_PASSWORD, uid, gid), "--reset-password did not set it"
        assert not login_works(root, PASSWORD, uid, gid), "the old password still works"
        current = OTHER_PASSWORD

        # --uninstall: programs gone, configuration and state kept.
        state_before = {k: v for k, v in snapshot(root).items()
                        if k.startswith(("etc/iothsm", "etc/pki-relay", "var/lib/iothsm",
                                         "var/lib/pki-relay"))}
        rc, out = setup(root, "--uninstall")
        assert rc == 0, out
        for rel in ("usr/sbin/iothsm-agent", "usr/sbin/pki-relay", "usr/sbin/iothsmctl",
                    "usr/lib/systemd/system/iothsm-agent.service",
                    "usr/share/polkit-1/rules.d/60-iothsm-pcscd.rules", "usr/lib/pkiaas"):
            assert not os.path.lexists(os.path.join(root, rel)), f"/{rel} survived --uninstall"
        now = snapshot(root)
        kept = {k: v for k, v in now.items() if k in state_before}
        assert kept == state_before, "--uninstall touched state:\n" + diff(state_before, kept)
        assert "iothsm" in accounts(root, "passwd")

        # Installing again after --uninstall finds the kept state: no password asked (stdin
        # is not a terminal), the old one still works.
        rc, out = setup(root)
        assert rc == 0, out
        assert login_works(root, current, uid, gid), "reinstall lost the password"
        rc, out = setup(root, "--uninstall")
        assert rc == 0, out

        # --uninstall --purge: back to exactly the seed.
        rc, out = setup(root, "--uninstall", "--purge")
        assert rc == 0, out
        # (The account files were edited back to what they were: same bytes, newer mtimes.)
        final = snapshot(root, with_mtime=False)
        seed = {k: v[:5] + (None,) for k, v in seed.items()}
        assert final == seed, "--purge left something behind:\n" + diff(seed, final)
        ok = True
        print("ok: layout, owners and modes; units verify installed; password not in argv/env/"
              "output/files; second run is a no-op; uninstall keeps state; purge leaves nothing")
    finally:
        if ok:
            shutil.rmtree(root, ignore_errors=True)
        else:
            sys.stderr.write(f"root kept for inspection: {root}\n")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
