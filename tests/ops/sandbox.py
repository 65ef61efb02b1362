"""Runs a program inside the sandbox a systemd unit file describes, without systemd.

PID 1 on our machines is not systemd, so `systemctl start` cannot show that a daemon still works
inside the sandbox of its unit. This module reads the unit's directives and applies the same
kernel mechanisms systemd's executor applies, in the child before exec:

  ProtectSystem=strict   a private mount namespace in which every mount is read-only but /dev,
                         /proc, /sys and the ReadWritePaths= (and StateDirectory=) given
  ProtectHome=yes        an empty, inaccessible tmpfs over /home, /root and /run/user
  PrivateTmp=yes         fresh tmpfs on /tmp and /var/tmp
  PrivateDevices=yes     a tmpfs /dev with only null, zero, full, random, urandom, tty, shm, pts
  User=                  setgroups([]), setgid, setuid to an unprivileged id (no capabilities
                         survive; CapabilityBoundingSet= is dropped as well)
  NoNewPrivileges=yes    prctl(PR_SET_NO_NEW_PRIVS)
  SystemCallFilter=      a seccomp allow-list built from `systemd-analyze syscall-filter`
                         groups, with SystemCallErrorNumber= for the rest;
                         SystemCallArchitectures=native
  MemoryDenyWriteExecute mmap with PROT_WRITE|PROT_EXEC, and mprotect/pkey_mprotect adding
                         PROT_EXEC, fail with EPERM (as systemd's seccomp rules do)
  RestrictAddressFamilies socket() of any other family fails with EAFNOSUPPORT
  RestrictNamespaces=yes unshare/setns/clone with namespace flags fail with EPERM

Usage: preexec = Sandbox(unit_path, uid, gid, writable=[state_dir]).preexec, then
subprocess.Popen(..., preexec_fn=preexec). The paths the program needs (config, state, notify
socket) must lie outside /tmp, /var/tmp and /home, as they would on a real system.
"""
import ctypes
import errno
import os
import re
import subprocess

import seccomp

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                       ctypes.c_char_p]
libc.unshare.argtypes = [ctypes.c_int]
libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                       ctypes.c_ulong]

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
CLONE_NEWNS = 0x00020000
PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP = 38, 24
PROT_WRITE, PROT_EXEC = 2, 4
NS_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | \
    0x40000000 | 0x00000080  # NEWNS NEWCGROUP NEWUTS NEWIPC NEWUSER NEWPID NEWNET NEWTIME
FAMILIES = {"AF_UNIX": 1, "AF_LOCAL": 1, "AF_INET": 2, "AF_INET6": 10, "AF_NETLINK": 16,
            "AF_PACKET": 17}


def unit_directives(path):
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;[" or "=" not in line:
                continue
            k, v = line.split("=", 1)
            out.setdefault(k.strip(), []).append(v.strip())
    return out


def syscall_groups():
    """{"@name": [members]} as this systemd defines them."""
    text = subprocess.run(["systemd-analyze", "syscall-filter", "--no-pager"], capture_output=True,
                          text=True, check=True).stdout
    groups, cur = {}, None
    for line in text.splitlines():
        if line.startswith("@"):
            cur = line.strip()
            groups[cur] = []
        elif cur and line.startswith("    ") and not line.strip().startswith("#"):
            groups[cur].append(line.strip())
        elif not line.strip():
            cur = None
    return groups


def expand(names, groups, seen=None):
    seen = set() if seen is None else seen
    out = set()
    for n in names:
        if n.startswith("@"):
            if n in seen:
                continue
            seen.add(n)
            out |= expand(groups[n], groups, seen)
        else:
            out.add(n)
    return out


def allowed_syscalls(lines, groups):
    """Applies SystemCallFilter= lines in order, as systemd does for an allow-list."""
    allow = None
    for line in lines:
        deny = line.startswith("~")
        names = expand(line.lstrip("~").split(), groups)
        if allow is None:
            assert not deny, "this emulation handles allow-lists (the first line without ~)"
            allow = set(names)
        elif deny:
            allow -= names
        else:
            allow |= names
    return allow


def _check(rc, what):
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def _mount(src, target, fstype, flags, data=None):
    _check(libc.mount(src.encode() if src else None, target.encode(),
                      fstype.encode() if fstype else None, flags,
                      data.encode() if data else None), f"mount {target}")


def _mount_points():
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            mp = parts[4].encode().decode("unicode_escape")
            opts = parts[5].split(",")
            points.append((mp, opts))
    return points


class Sandbox:
    def __init__(self, unit_path, uid, gid, writable=()):
        self.d = unit_directives(unit_path)
        self.uid, self.gid = uid, gid
        self.writable = [os.path.realpath(p) for p in writable]
        groups = syscall_groups()
        self.allow = allowed_syscalls(self.d.get("SystemCallFilter", []), groups)
        errname = self.d.get("SystemCallErrorNumber", ["EPERM"])[-1]
        self.errno = getattr(errno, errname)
        self.families = {FAMILIES[f] for f in " ".join(self.d.get("RestrictAddressFamilies", []))
                         .split()} if "RestrictAddressFamilies" in self.d else None
        # Built here, in the parent: a forked child must not need to parse anything.
        self.filters = self._filters()

    def on(self, key):
        return self.d.get(key, ["no"])[-1] in ("yes", "true", "strict", "1")

    def _filters(self):
        filters = []
        if self.allow:
            f = seccomp.SyscallFilter(seccomp.ERRNO(self.errno))
            for name in sorted(self.allow):
                try:
                    f.add_rule(seccomp.ALLOW, name)
                except (RuntimeError, ValueError, OSError):
                    pass  # not a system call of this architecture
            filters.append(f)
        guard = seccomp.SyscallFilter(seccomp.ALLOW)
        used = False
        if self.on("MemoryDenyWriteExecute"):
            both = PROT_WRITE | PROT_EXEC
            guard.add_rule(seccomp.ERRNO(errno.EPERM), "mmap",
                           seccomp.Arg(2, seccomp.MASKED_EQ, both, both))
            for name in ("mprotect", "pkey_mprotect"):
                guard.add_rule(seccomp.ERRNO(errno.EPERM), name,
                               seccomp.Arg(2, seccomp.MASKED_EQ, PROT_EXEC, PROT_EXEC))
            used = True
        if self.families is not None:
            for fam in range(0, 46):
                if fam not in self.families:
                    guard.add_rule(seccomp.ERRNO(errno.EAFNOSUPPORT), "socket",
                                   seccomp.Arg(0, seccomp.EQ, fam))
            used = True
        if self.on("RestrictNamespaces"):
            guard.add_rule(seccomp.ERRNO(errno.EPERM), "unshare")
            guard.add_rule(seccomp.ERRNO(errno.EPERM), "setns")
            guard.add_rule(seccomp.ERRNO(errno.EPERM), "clone",
                           seccomp.Arg(0, seccomp.MASKED_EQ, NS_FLAGS, 0x10000000))
            used = True
        if used:
            filters.append(guard)
        return filters

    # ---- in the child, before exec ----
    def _filesystem(self):
        _check(libc.unshare(CLONE_NEWNS), "unshare")
        _mount(None, "/", None, MS_REC | MS_PRIVATE)
        for p in self.writable:  # their own mounts, so they stay writable below
            _mount(p, p, None, MS_BIND | MS_REC)
        private = []
        if self.on("PrivateTmp"):
            for t in ("/tmp", "/var/tmp"):
                if os.path.isdir(t):
                    _mount("tmpfs", t, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
                    private.append(t)
        if self.on("PrivateDevices"):
            # Staged on the private /tmp (nothing is created on the host's file systems).
            assert "/tmp" in private, "PrivateDevices= here needs PrivateTmp= too"
            stage = "/tmp/.dev"
            os.mkdir(stage, 0o755)
            for dev in ("null", "zero", "full", "random", "urandom", "tty"):
                target = os.path.join(stage, dev)
                open(target, "w").close()
                _mount("/dev/" + dev, target, None, MS_BIND)
            os.mkdir(os.path.join(stage, "pts"))
            os.mkdir(os.path.join(stage, "shm"))
            _mount("tmpfs", os.path.join(stage, "shm"), "tmpfs", MS_NOSUID | MS_NODEV,
                   "mode=1777")
            _mount(stage, "/dev", None, MS_BIND | MS_REC)
        if self.on("ProtectHome"):
            for h in ("/home", "/root", "/run/user"):
                if os.path.isdir(h):
                    _mount("tmpfs", h, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=000")
        if self.on("ProtectSystem"):
            keep = ["/proc", "/sys", "/dev", *private, *self.writable]
            for mp, opts in _mount_points():
                if any(mp == k or mp.startswith(k.rstrip("/") + "/") for k in keep):
                    continue
                flags = MS_BIND | MS_REMOUNT | MS_RDONLY
                for o, bit in (("nosuid", MS_NOSUID), ("nodev", MS_NODEV), ("noexec", MS_NOEXEC)):
                    if o in opts:
                        flags |= bit
                try:
                    _mount(None, mp, None, flags)
                except OSError:
                    pass  # a mount hidden under another one

    def preexec(self):
        self._filesystem()
        if "CapabilityBoundingSet" in self.d:
            keep = set(" ".join(self.d["CapabilityBoundingSet"]).split())
            for cap in range(0, 41):
                if not (cap == 10 and "CAP_NET_BIND_SERVICE" in keep):
                    libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
        os.setgroups([])
        os.setgid(self.gid)
        os.setuid(self.uid)
        if self.on("NoNewPrivileges") or self.filters:
            _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
        # The allow-list goes last: it forbids seccomp() itself, as systemd's does.
        for f in reversed(self.filters):
            f.load()
