"""The built programs carry the hardening cmake/PkiHardening.cmake asks for, as readelf sees it
(what a distribution's hardening-check or checksec reports): position-independent executable,
full RELRO (a GNU_RELRO segment and immediate binding), a non-executable stack and no segment
both writable and executable, the stack protector, and glibc's fortified functions.

On the sanitizer build (PKI_SANITIZE) _FORTIFY_SOURCE is deliberately not set (it needs
optimisation and clashes with ASan's interceptors, see cmake/PkiHardening.cmake), so there the
fortified functions are not asked for; instead the test checks that ASan is really linked in.
Everything else is set for both builds and is asserted for both."""
import os
import re
import subprocess
import unittest

from pkitest import BUILD_DIR, program

SANITIZE = os.environ.get("PKI_SANITIZE", "").upper() in ("ON", "1", "TRUE")
PROGRAMS = {
    "pki-relay": lambda: program("pki-relay"),
    "iothsm-agent": lambda: program("iothsm-agent"),
    "piv-sim": lambda: os.path.join(BUILD_DIR, "tools", "piv-sim", "piv-sim"),
}


def readelf(path, *opts):
    r = subprocess.run(["readelf", "-W", *opts, path], capture_output=True, text=True,
                       timeout=120)
    if r.returncode != 0:
        raise AssertionError(f"readelf {' '.join(opts)} {path}: {r.stderr}")
    return r.stdout


def segments(path):
    """[(type, flags)] of the program headers, flags such as 'R E' or 'RW '."""
    out = []
    for line in readelf(path, "-l").splitlines():
        m = re.match(r"\s+([A-Z_]+|LOOS\+\w+)\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+"
                     r"0x[0-9a-f]+\s+0x[0-9a-f]+\s+([RWE ]{3})\s", line)
        if m:
            out.append((m.group(1), m.group(2)))
    return out


def dynamic(path):
    """{tag: value} of the dynamic section, e.g. {'FLAGS_1': 'Flags: NOW PIE'}."""
    out = {}
    for line in readelf(path, "-d").splitlines():
        m = re.match(r"\s*0x[0-9a-f]+\s+\((\w+)\)\s+(.*)$", line)
        if m:
            out.setdefault(m.group(1), m.group(2).strip())
    return out


def dyn_symbols(path, undefined=True):
    """Names of the dynamic symbols, without version suffixes: the undefined (imported) ones,
    or (undefined=False) the ones the program defines itself."""
    names = set()
    for line in readelf(path, "--dyn-syms").splitlines():
        f = line.split()
        if len(f) >= 8 and f[0].rstrip(":").isdigit() and (f[6] == "UND") == undefined:
            names.add(f[7].split("@")[0])
    return names


def imported(path):
    return dyn_symbols(path)


class Hardening(unittest.TestCase):
    def each(self):
        for name, where in PROGRAMS.items():
            path = where()
            self.assertTrue(os.access(path, os.X_OK), f"{name} is not built at {path}")
            with self.subTest(name):
                yield name, path

    def test_position_independent_executable(self):
        for name, path in self.each():
            header = readelf(path, "-h")
            self.assertRegex(header, r"Type:\s+DYN\b", f"{name} is not PIE:\n{header}")
            # DYN with an interpreter is an executable, not a shared library.
            self.assertIn("INTERP", [t for t, _ in segments(path)], name)
            self.assertIn("PIE", dynamic(path).get("FLAGS_1", ""), name)

    def test_full_relro(self):
        for name, path in self.each():
            self.assertIn("GNU_RELRO", [t for t, _ in segments(path)], f"{name}: no RELRO")
            dyn = dynamic(path)
            now = ("BIND_NOW" in dyn or "BIND_NOW" in dyn.get("FLAGS", "") or
                   re.search(r"\bNOW\b", dyn.get("FLAGS_1", "")))
            self.assertTrue(now, f"{name}: lazy binding (no -z now): {dyn}")

    def test_no_executable_stack_or_writable_code(self):
        for name, path in self.each():
            segs = segments(path)
            stacks = [f for t, f in segs if t == "GNU_STACK"]
            self.assertEqual(len(stacks), 1, f"{name}: no GNU_STACK header (stack executable)")
            self.assertNotIn("E", stacks[0], f"{name}: executable stack")
            wx = [(t, f) for t, f in segs if "W" in f and "E" in f]
            self.assertEqual(wx, [], f"{name}: writable and executable segments")

    def test_stack_protector(self):
        for name, path in self.each():
            self.assertIn("__stack_chk_fail", imported(path), f"{name}: no stack protector")

    def test_fortify_source(self):
        for name, path in self.each():
            syms = imported(path)
            if SANITIZE:
                # No _FORTIFY_SOURCE under ASan (PkiHardening.cmake): the sanitizer is what
                # checks these calls there, so it must really be linked in (clang links its
                # runtime statically and exports __asan_init; gcc imports it from libasan).
                asan = dyn_symbols(path, undefined=False) | syms
                self.assertIn("__asan_init", asan, f"{name}: a sanitizer build without ASan")
                continue
            chk = sorted(s for s in syms if re.fullmatch(r"__\w+_chk", s) and
                         s != "__stack_chk_fail")
            self.assertTrue(chk, f"{name}: no fortified function imported (_FORTIFY_SOURCE)")
            print(f"{name}: {len(chk)} fortified functions, e.g. {', '.join(chk[:4])}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
