"""End to end with real ACME clients on loopback against pki-relay (EAB required):
certbot (register with EAB, certonly --standalone HTTP-01, DNS-01 with --manual hooks against a
local DNS server, wildcard, renewal, revocation), lego (EAB, HTTP-01, DNS-01 with its exec
provider, wildcard, renewal, revocation) and uacme (EAB, HTTP-01 through a hook, revocation
signed with the certificate's key); pre-approved names issue without any challenge.
Every certificate is verified with openssl against the relay's CA."""
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

import acmetest as A
from pkitest import free_port


def write_script(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


# Hook used by certbot (--manual-auth-hook) and lego (exec provider): adds a TXT value to the
# JSON file the test's DNS server answers from.
TXT_HOOK = """#!/usr/bin/python3
import json, os, sys
path = {txt_file!r}
if os.environ.get("CERTBOT_DOMAIN"):
    name, value, add = "_acme-challenge." + os.environ["CERTBOT_DOMAIN"], os.environ["CERTBOT_VALIDATION"], True
else:  # lego exec: present|cleanup FQDN VALUE
    name, value, add = sys.argv[2].rstrip("."), sys.argv[3], sys.argv[1] == "present"
recs = json.load(open(path))
vals = recs.setdefault(name.lower(), [])
if add and value not in vals:
    vals.append(value)
json.dump(recs, open(path + ".tmp", "w"))
os.replace(path + ".tmp", path)
"""

# A hook that must never run: it leaves a marker and fails.
NEVER_HOOK = """#!/bin/sh
touch {marker}
exit 1
"""

# uacme hook: METHOD TYPE IDENT TOKEN AUTH; serves http-01 from a webroot, declines the rest.
UACME_HOOK = """#!/bin/sh
[ "$2" = "http-01" ] || exit 1
case "$1" in
  begin) mkdir -p {webroot}/.well-known/acme-challenge && printf '%s' "$5" > {webroot}/.well-known/acme-challenge/$4 ;;
  *) rm -f {webroot}/.well-known/acme-challenge/$4 ;;
esac
"""


class AcmeClients(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.holder = A.Cleanups()
        cls.R = A.AcmeRelay(cls.holder)
        cls.pid = cls.R.policy(allowed=["*.example.test"], preapproved=["*.pre.example.test"])
        cls.tmp = tempfile.mkdtemp(prefix="acme-clients-")
        cls.holder.addCleanup(shutil.rmtree, cls.tmp, True)
        cls.txt_hook = write_script(os.path.join(cls.tmp, "txt-hook"),
                                    TXT_HOOK.format(txt_file=cls.R.dns.txt_file))

    @classmethod
    def tearDownClass(cls):
        cls.holder.run()

    def run_tool(self, cmd, env=None, timeout=180, check=True):
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           env=dict(os.environ, **(env or {})))
        if check and r.returncode != 0:
            self.fail(f"{cmd[0]} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}\n"
                      f"--- relay ---\n{self.R.d.output()[-4000:]}")
        return r

    def verify(self, chain_path, names):
        """openssl accepts the chain for TLS servers and the leaf names exactly `names`."""
        r = self.run_tool(["openssl", "verify", "-CAfile", self.R.ca_pem, "-untrusted",
                           chain_path, "-purpose", "sslserver", chain_path])
        self.assertIn(": OK", r.stdout)
        with open(chain_path) as f:
            leaf = A.load_chain(f.read())[0]
        san = leaf.extensions.get_extension_for_class(A.x509.SubjectAlternativeName).value
        self.assertEqual(sorted(san.get_values_for_type(A.x509.DNSName)), sorted(names))
        return leaf

    def revoked_serials(self):
        r = self.R.api.get(f"/api/v1/cas/{self.R.ca['id']}/certificates?status=revoked")
        self.assertEqual(r.status, 200, r.body)
        return {c["serial"].lstrip("0") for c in r.json()["certificates"]}

    # ---- certbot ----

    def certbot(self, *args, check=True):
        d = os.path.join(self.tmp, "certbot")
        return self.run_tool(
            ["certbot", "--non-interactive", "--config-dir", d + "/conf", "--work-dir",
             d + "/work", "--logs-dir", d + "/logs", "--server", self.R.directory, *args],
            env={"REQUESTS_CA_BUNDLE": self.R.cert}, check=check)

    def test_certbot(self):
        kid, hmac_key = self.R.eab(self.pid, name="certbot")
        self.certbot("register", "--agree-tos", "-m", "ops@example.test", f"--eab-kid={kid}",
                     f"--eab-hmac-key={hmac_key}")
        live = os.path.join(self.tmp, "certbot/conf/live")
        # HTTP-01 with certbot's own standalone server on the port the relay validates against.
        self.certbot("certonly", "--standalone", "--http-01-address", "127.0.0.1",
                     "--http-01-port", str(self.R.http01_port), "--cert-name", "web",
                     "-d", "web.example.test", "-d", "www.web.example.test")
        first = self.verify(os.path.join(live, "web/fullchain.pem"),
                            ["web.example.test", "www.web.example.test"])
        # Renewal (forced: the certificate is fresh) gives a new certificate.
        self.certbot("renew", "--force-renewal", "--no-random-sleep-on-renew", "--cert-name", "web",
                     "--standalone",
                     "--http-01-address", "127.0.0.1", "--http-01-port",
                     str(self.R.http01_port))
        second = self.verify(os.path.join(live, "web/fullchain.pem"),
                             ["web.example.test", "www.web.example.test"])
        self.assertNotEqual(first.serial_number, second.serial_number)
        # DNS-01 with manual hooks, including a wildcard.
        self.certbot("certonly", "--manual", "--preferred-challenges", "dns",
                     "--manual-auth-hook", self.txt_hook, "--cert-name", "wild",
                     "-d", "*.cb.example.test", "-d", "cb.example.test")
        self.verify(os.path.join(live, "wild/fullchain.pem"),
                    ["*.cb.example.test", "cb.example.test"])
        # Revocation by the account.
        self.certbot("revoke", "--cert-path", os.path.join(live, "web/cert.pem"),
                     "--reason", "keycompromise", "--no-delete-after-revoke")
        self.assertIn(format(second.serial_number, "x"), self.revoked_serials())
        # Refusal surfaces to the user: a name outside the policy.
        r = self.certbot("certonly", "--standalone", "--http-01-port", str(self.R.http01_port),
                         "-d", "www.example.org", check=False)
        self.assertNotEqual(r.returncode, 0)
        with open(os.path.join(self.tmp, "certbot/logs/letsencrypt.log")) as f:
            self.assertIn("rejectedIdentifier", r.stdout + r.stderr + f.read())

    # ---- lego ----

    def lego(self, kid, hmac_key, *args):
        return self.run_tool(
            ["lego", "--server", self.R.directory, "--path", os.path.join(self.tmp, "lego"),
             "--accept-tos", "--email", "ops@example.test", "--eab", f"--kid={kid}",
             f"--hmac={hmac_key}", *args],
            env={"LEGO_CA_CERTIFICATES": self.R.cert, "EXEC_PATH": self.txt_hook})

    def test_lego(self):
        kid, hmac_key = self.R.eab(self.pid, name="lego")
        certs = os.path.join(self.tmp, "lego/certificates")
        http = ("--http", "--http.port", f"127.0.0.1:{self.R.http01_port}")
        self.lego(kid, hmac_key, "--domains", "lego.example.test", *http, "run")
        first = self.verify(os.path.join(certs, "lego.example.test.crt"), ["lego.example.test"])
        self.lego(kid, hmac_key, "--domains", "lego.example.test", *http, "renew", "--days",
                  "3650", "--no-random-sleep")
        second = self.verify(os.path.join(certs, "lego.example.test.crt"), ["lego.example.test"])
        self.assertNotEqual(first.serial_number, second.serial_number)
        dns = ("--dns", "exec", "--dns.resolvers", f"127.0.0.1:{self.R.dns.port}",
               "--dns.disable-cp")
        self.lego(kid, hmac_key, "--domains", "*.lg.example.test", "--domains",
                  "lg.example.test", *dns, "run")
        self.verify(os.path.join(certs, "_.lg.example.test.crt"),
                    ["*.lg.example.test", "lg.example.test"])
        self.lego(kid, hmac_key, "--domains", "lego.example.test", "revoke")
        self.assertIn(format(second.serial_number, "x"), self.revoked_serials())

    def test_lego_preapproved_without_challenge(self):
        kid, hmac_key = self.R.eab(self.pid, name="lego-pre")
        marker = os.path.join(self.tmp, "challenge-was-asked")
        never = write_script(os.path.join(self.tmp, "never-hook"), NEVER_HOOK.format(marker=marker))
        r = self.run_tool(
            ["lego", "--server", self.R.directory, "--path", os.path.join(self.tmp, "lego-pre"),
             "--accept-tos", "--email", "ops@example.test", "--eab", "--kid", kid, "--hmac",
             hmac_key, "--domains", "pre.example.test", "--domains", "*.pre.example.test",
             "--dns", "exec", "run"],
            env={"LEGO_CA_CERTIFICATES": self.R.cert, "EXEC_PATH": never})
        self.assertFalse(os.path.exists(marker), r.stderr)
        self.verify(os.path.join(self.tmp, "lego-pre/certificates/pre.example.test.crt"),
                    ["pre.example.test", "*.pre.example.test"])

    # ---- uacme ----

    def uacme(self, *args, eab=None):
        """uacme trusts only the system bundle: run it in a private mount namespace where the
        bundle is the relay's HTTPS certificate."""
        conf = os.path.join(self.tmp, "uacme")
        cmd = ["uacme", "-v", "-y", "-a", self.R.directory, "-c", conf, "-t", "EC"]
        if eab:
            cmd += ["-e", f"{eab[0]}:{eab[1]}"]
        inner = ("mount --bind \"$0\" /etc/ssl/certs/ca-certificates.crt && exec \"$@\"")
        return self.run_tool(["unshare", "-m", "sh", "-c", inner, self.R.cert, *cmd, *args])

    def test_uacme(self):
        kid, hmac_key = self.R.eab(self.pid, name="uacme")
        webroot = os.path.join(self.tmp, "webroot")
        os.makedirs(webroot, exist_ok=True)
        hook = write_script(os.path.join(self.tmp, "uacme-hook"),
                            UACME_HOOK.format(webroot=webroot))
        srv = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                                "--directory", webroot, str(self.R.http01_port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(srv.wait)
        self.addCleanup(srv.terminate)
        A.wait_port(self.R.http01_port)
        self.uacme("new", "ops@example.test", eab=(kid, hmac_key))
        self.uacme("-h", hook, "issue", "ua.example.test", "www.ua.example.test")
        conf = os.path.join(self.tmp, "uacme")
        crt = os.path.join(conf, "ua.example.test/cert.pem")
        leaf = self.verify(crt, ["ua.example.test", "www.ua.example.test"])
        # Revocation signed with the certificate's own key.
        self.uacme("revoke", crt, os.path.join(conf, "private/ua.example.test/key.pem"))
        self.assertIn(format(leaf.serial_number, "x"), self.revoked_serials())


if __name__ == "__main__":
    unittest.main(verbosity=2)
