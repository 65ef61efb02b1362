"""Both daemons: --version, --help, config validation with file and line, serving, SIGTERM."""
import os
import tempfile
import unittest

from pkitest import Daemon, http, program, run

DAEMONS = {
    "pki-relay": 'log_level = "debug";\nhttp = {{ listen = "127.0.0.1"; port = {port}; tls = false; }};\n'
                 'state_dir = "{state_dir}";\n',
    "iothsm-agent": 'log_level = "debug";\nhttp = {{ listen = "127.0.0.1"; port = {port}; }};\n'
                    'state_dir = "{state_dir}";\n',
}
# The agent's local UI is HTTPS only (a self-signed certificate is made on first start).
SCHEMES = {"pki-relay": "http", "iothsm-agent": "https"}


class DaemonCli(unittest.TestCase):
    def write_config(self, text):
        fd, path = tempfile.mkstemp(suffix=".conf")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        self.addCleanup(os.remove, path)
        return path

    def test_version_and_help(self):
        for name in DAEMONS:
            with self.subTest(name):
                r = run([program(name), "--version"])
                self.assertRegex(r.stdout, rf"^{name} \d+\.\d+\.\d+\n$")
                r = run([program(name), "--help"])
                self.assertIn("--config", r.stdout)
                r = run([program(name), "--help-config"])
                self.assertIn("http.port", r.stdout)
                r = run([program(name), "--no-such-option"], check=False)
                self.assertEqual(r.returncode, 2)

    def test_unknown_key_rejected_with_file_and_line(self):
        for name in DAEMONS:
            with self.subTest(name):
                path = self.write_config('log_level = "info";\nhttp = {\n  port = 1;\n  lisen = "x";\n};\n')
                r = run([program(name), "--config", path, "--check-config"], check=False)
                self.assertEqual(r.returncode, 1)
                self.assertIn(f"{path}:4: unknown key 'http.lisen'", r.stderr)

    def test_bad_type_and_syntax_rejected(self):
        for name in DAEMONS:
            with self.subTest(name):
                path = self.write_config('http = { port = "eighty"; };\n')
                r = run([program(name), "-c", path, "--check-config"], check=False)
                self.assertEqual(r.returncode, 1)
                self.assertIn(f"{path}:1: 'http.port' must be a integer", r.stderr)
                path = self.write_config('log_level = "info"\nhttp = ;\n')
                r = run([program(name), "-c", path], check=False)
                self.assertEqual(r.returncode, 1)
                self.assertIn(f"{path}:2:", r.stderr)
                path = self.write_config('log_level = "loud";\n')
                r = run([program(name), "-c", path], check=False)
                self.assertEqual(r.returncode, 1)
                self.assertIn("log_level", r.stderr)

    def test_missing_config_file(self):
        for name in DAEMONS:
            with self.subTest(name):
                r = run([program(name), "-c", "/nonexistent/x.conf"], check=False)
                self.assertEqual(r.returncode, 1)
                self.assertIn("/nonexistent/x.conf: cannot open", r.stderr)

    def test_serves_and_stops_cleanly_on_sigterm(self):
        for name, config in DAEMONS.items():
            with self.subTest(name):
                with Daemon(name, config, scheme=SCHEMES[name]) as d:
                    r = http("GET", d.url + "/healthz")
                    self.assertEqual(r.status, 200)
                    self.assertEqual(r.json(), {"status": "ok"})
                    r = http("GET", d.url + "/no/such/thing")
                    self.assertEqual(r.status, 404)
                    self.assertEqual(r.json()["error"]["code"], "not_found")
                    self.assertEqual(r.headers.get("X-Content-Type-Options"), "nosniff")
                # __exit__ asserted exit status 0 after SIGTERM
                self.assertEqual(d.proc.returncode, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
