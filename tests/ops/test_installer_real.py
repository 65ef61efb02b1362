"""scripts/setup_ubuntu.sh in its real mode (no --root): run as root on a copy-on-write view
of this very machine, so every step that acts on / (systemd-sysusers without --root, userdel,
the detection that systemd is not running) is exercised, and the machine is not changed.

The view: a private mount namespace (unshare -m), an overlay whose lower layer is / and whose
upper layer is a tmpfs, /proc /dev /sys bound in, fresh /run and /tmp, and chroot into it. The
overlay's upper layer then holds exactly what the installer changed, which is what is checked:
a second run changes nothing there, --uninstall --purge leaves only the account files (edited
back to their old content) and deletes nothing that was there before.
"""
import os
import shutil
import stat
import subprocess
import sys
import tempfile

import pkitest
from secretscan import ProcWatcher, scan_text, scan_tree
import test_installer as ti

PASSWORD = "Real-Mode-Passw0rd-9321"
ACCOUNT_FILES = {"etc/passwd", "etc/group", "etc/shadow", "etc/gshadow", "etc/passwd-",
                 "etc/group-", "etc/shadow-", "etc/gshadow-", "etc/.pwd.lock", "etc/subuid",
                 "etc/subgid", "etc/subuid-", "etc/subgid-"}


def sh(*cmd):
    subprocess.run(cmd, check=True)


def changes(upper):
    """The upper layer's snapshot, without the build tree (cmake --install rewrites its
    install_manifest.txt there on every run)."""
    return {k: v for k, v in ti.snapshot(upper).items()
            if not k.startswith(os.path.relpath(pkitest.BUILD_DIR, "/"))
            and not k.startswith(os.path.relpath(pkitest.SOURCE_DIR, "/"))}


def inner():
    top = os.environ["OPS_REAL_TOP"]
    sh("mount", "-t", "tmpfs", "tmpfs", top)
    upper, work, merged = (os.path.join(top, d) for d in ("upper", "work", "merged"))
    for d in (upper, work, merged):
        os.mkdir(d)
    sh("mount", "-t", "overlay", "overlay", "-o",
       f"lowerdir=/,upperdir={upper},workdir={work}", merged)
    for api in ("proc", "dev", "sys"):
        sh("mount", "--rbind", "/" + api, os.path.join(merged, api))
    for fresh in ("run", "tmp"):
        sh("mount", "-t", "tmpfs", "tmpfs", os.path.join(merged, fresh))
    # The source and build trees at their own paths (they may live under /tmp, now fresh).
    for path, ro in ((os.path.realpath(pkitest.SOURCE_DIR), True),
                     (os.path.realpath(pkitest.BUILD_DIR), False)):
        target = merged + path
        os.makedirs(target, exist_ok=True)
        sh("mount", "--bind", path, target)
        if ro:
            sh("mount", "-o", "remount,bind,ro", target)
    with open(os.path.join(merged, "tmp", "pw"), "w") as f:
        f.write(PASSWORD + "\n")
    os.chmod(os.path.join(merged, "tmp", "pw"), 0o600)

    def setup(*args):
        r = subprocess.run(["chroot", merged, "bash", os.path.join(ti.SETUP), "--prebuilt",
                            pkitest.BUILD_DIR, "--no-deps", *args],
                           capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        return r.returncode, r.stdout + r.stderr

    with ProcWatcher([PASSWORD.encode()]) as watch:
        rc, out = setup("--password-file", "/tmp/pw")
    print(out)
    assert rc == 0, out
    assert not watch.hits, f"the password showed in /proc: {watch.hits}"
    assert not scan_text(out, [PASSWORD.encode()])
    assert "systemd is not running here" in out, "systemd detection"
    uid, gid = ti.check_layout(merged)
    r = subprocess.run(["chroot", merged, "getent", "passwd", "iothsm"], capture_output=True,
                       text=True)
    assert r.returncode == 0 and "/usr/sbin/nologin" in r.stdout, r.stdout
    leaked = scan_tree(upper, [PASSWORD.encode()])
    assert not leaked, f"the password is stored in clear: {leaked}"
    ti.assert_agent_has_set_password()
    assert ti.login_works(merged, PASSWORD, uid, gid), "cannot log in"

    before = changes(upper)
    rc, out = setup()
    assert rc == 0, out
    after = changes(upper)
    assert after == before, "the second run changed:\n" + ti.diff(before, after)

    rc, out = setup("--uninstall", "--purge")
    assert rc == 0, out
    r = subprocess.run(["chroot", merged, "getent", "passwd", "iothsm"], capture_output=True)
    assert r.returncode != 0, "the user iothsm survived --purge"
    left = changes(upper)
    for rel, (kind, mode, *_rest) in left.items():
        p = os.path.join(upper, rel)
        st = os.lstat(p)
        assert not stat.S_ISCHR(st.st_mode), f"--purge deleted /{rel}, which was there before"
        if kind == "f":
            assert rel in ACCOUNT_FILES, f"--purge left /{rel} behind"
        elif kind == "d":
            lower = os.path.join("/", rel)
            assert os.path.isdir(lower), f"--purge left the folder /{rel} behind"
    for name in ("passwd", "group", "shadow", "gshadow"):
        with open(os.path.join(merged, "etc", name), "rb") as a, open("/etc/" + name, "rb") as b:
            assert a.read() == b.read(), f"/etc/{name} is not back to what it was"
    print(f"after --purge the overlay holds only {sorted(k for k, v in left.items() if v[0] == 'f')}")


def main():
    if os.environ.get("OPS_REAL_INNER") == "1":
        inner()
        return
    top = tempfile.mkdtemp(prefix="ops-real-")  # a mount point, in the namespace only
    try:
        r = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, "-u",
                            os.path.abspath(__file__)],
                           env=dict(os.environ, OPS_REAL_INNER="1", OPS_REAL_TOP=top), timeout=600)
    finally:
        os.rmdir(top)
    assert r.returncode == 0, "the real-mode installer run failed"
    print("ok: real mode on a copy-on-write view of this machine: layout, password, no-op "
          "second run, purge leaves only the account files as they were")


if __name__ == "__main__":
    main()
