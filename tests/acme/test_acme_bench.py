"""scripts/bench/acme.sh (scripts/bench.sh acme) still works, with tiny settings: it prints the
BENCH lines acme_lego_order_ms and acme_orders_per_s with positive numbers (no timing is judged
here). And a lego order that fails aborts the benchmark with a message naming it and prints no
number for it (a failed run used to be timed and counted like a good one)."""
import os
import re
import shutil
import stat
import subprocess
import tempfile
import unittest

SRC = os.environ.get("PKI_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
BUILD = os.environ["PKI_BUILD_DIR"]
SCRIPT = os.path.join(SRC, "scripts", "bench", "acme.sh")
BENCH = re.compile(r"^BENCH name=(\S+) value=(\S+) unit=(\S+)", re.M)


def run_bench(path=None):
    env = dict(os.environ, PKI_BUILD_DIR=BUILD, BENCH_RUNS="1", BENCH_SECONDS="2",
               BENCH_PROCS="1")
    if path:
        env["PATH"] = path + os.pathsep + env["PATH"]
    return subprocess.run(["bash", SCRIPT], env=env, capture_output=True, text=True,
                          timeout=300)


class AcmeBench(unittest.TestCase):
    def setUp(self):
        for tool in ("lego", "pebble"):
            self.assertTrue(shutil.which(tool), f"{tool} is not installed (scripts/deps/acme.txt)")

    def test_prints_positive_numbers(self):
        r = run_bench()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        lines = {name: (float(value), unit) for name, value, unit in BENCH.findall(r.stdout)}
        self.assertEqual(sorted(lines), ["acme_lego_order_ms", "acme_orders_per_s"], r.stdout)
        self.assertEqual(lines["acme_lego_order_ms"][1], "ms")
        self.assertEqual(lines["acme_orders_per_s"][1], "orders/s")
        for name, (value, _) in lines.items():
            self.assertGreater(value, 0, (name, r.stdout))
        # the pebble baseline was measured too
        m = re.search(r"name=acme_lego_order_ms .* baseline=(\S+)", r.stdout)
        self.assertTrue(m and float(m.group(1)) > 0, r.stdout)

    def test_failed_lego_order_aborts(self):
        """lego fails its first timed order from the relay (after a good warm-up order)."""
        real = shutil.which("lego")
        d = tempfile.mkdtemp(prefix="acme-bench-lego-")
        self.addCleanup(shutil.rmtree, d, ignore_errors=True)
        fake = os.path.join(d, "lego")
        with open(fake, "w") as f:
            f.write("#!/bin/sh\n"
                    'case " $* " in *" o1.relay.bench.test "*)\n'
                    '  echo "simulated lego failure" >&2; exit 1;;\n'
                    "esac\n"
                    f'exec "{real}" "$@"\n')
        os.chmod(fake, os.stat(fake).st_mode | stat.S_IXUSR)
        r = run_bench(d)
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("lego failed to order o1.relay.bench.test", r.stderr)
        self.assertIn("simulated lego failure", r.stderr)  # lego's own output is shown
        self.assertIn("aborted, no number reported", r.stderr)
        self.assertNotIn("BENCH", r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
