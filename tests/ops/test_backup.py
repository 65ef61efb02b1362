"""The back-up and restore procedure of docs/operations.md, followed step by step on two
throwaway roots: back up an installed appliance with tar, install a fresh one (whose service
users get other ids), restore the archive over it, fix the owners as the docs say, and the
restored appliance opens with the original admin password, its master keys and certificate.
"""
import os
import shutil
import subprocess
import sys
import tempfile

import pkitest
import test_installer as ti

ORIGINAL = "Original-Appliance-Passw0rd"
TEMPORARY = "Temporary-Install-Passw0rd"
DIRS = ["etc/iothsm", "etc/pki-relay", "var/lib/iothsm", "var/lib/pki-relay"]


def read(path):
    with open(path, "rb") as f:
        return f.read()


def main():
    work = tempfile.mkdtemp(prefix="ops-backup-")
    a, b = ti.seed_root(), ti.seed_root()
    # On the second machine an older system user holds the ids the first one's users got.
    for name, line in (("passwd", "olduser:x:995:995::/nonexistent:/usr/sbin/nologin\n"),
                       ("group", "olduser:x:995:\n")):
        with open(os.path.join(b, "etc", name), "a") as f:
            f.write(line)
    ok = False
    try:
        pw1, pw2 = os.path.join(work, "pw1"), os.path.join(work, "pw2")
        for p, text in ((pw1, ORIGINAL), (pw2, TEMPORARY)):
            with open(p, "w") as f:
                f.write(text + "\n")
        rc, out = ti.setup(a, "--password-file", pw1)
        assert rc == 0, out
        uid_a, gid_a = ti.check_layout(a)

        archive = os.path.join(work, "backup.tar.gz")
        pkitest.run(["tar", "-C", a, "-czpf", archive, *DIRS])

        rc, out = ti.setup(b, "--password-file", pw2)
        assert rc == 0, out
        uid_b, gid_b = ti.check_layout(b)
        assert uid_b != uid_a, "the second machine should give the users other ids"
        pkitest.run(["tar", "-C", b, "-xzpf", archive])
        # Numeric owners came back from the first machine; the docs' chown fixes them.
        relay_uid = int(ti.accounts(b, "passwd")["pki-relay"][2])
        relay_gid = int(ti.accounts(b, "group")["pki-relay"][2])
        for d, uid, gid in (("var/lib/iothsm", uid_b, gid_b),
                            ("var/lib/pki-relay", relay_uid, relay_gid)):
            pkitest.run(["chown", "-R", f"{uid}:{gid}", os.path.join(b, d)])
        # The config files' groups, as the installer sets them (its next run does this too).
        rc, out = ti.setup(b)
        assert rc == 0, out
        assert "admin password set" not in out, "the restored password was replaced"
        ti.check_layout(b)

        for key in ("etc/iothsm/credentials/master.key", "etc/pki-relay/credentials/master.key",
                    "etc/iothsm/tls/ui.key", "etc/iothsm/tls/ui.crt"):
            assert read(os.path.join(a, key)) == read(os.path.join(b, key)), f"{key} not restored"
        ti.assert_agent_has_set_password()
        assert ti.login_works(b, ORIGINAL, uid_b, gid_b), "restored: original password fails"
        assert not ti.login_works(b, TEMPORARY, uid_b, gid_b), "the temporary one still works"
        ok = True
        print("ok: backup, restore onto other user ids, original password and keys back")
    finally:
        for r in (a, b):
            if ok:
                shutil.rmtree(r, ignore_errors=True)
            else:
                sys.stderr.write(f"kept {r}\n")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
