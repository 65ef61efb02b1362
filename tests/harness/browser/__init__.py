"""Runs a node browser-test script (see browser.mjs) from a Python ctest test."""
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))


def ensure_installed():
    if not os.path.isdir(os.path.join(HERE, "node_modules", "playwright-core")):
        raise AssertionError("playwright-core is not installed: run scripts/deps/browser.sh")
    if not os.access(os.environ.get("PKI_CHROMIUM", "/usr/bin/chromium"), os.X_OK):
        raise AssertionError("Debian's chromium is not installed (apt-get install chromium)")


def run_node(script, env=None, timeout=600):
    """Runs `node script` with env added; raises AssertionError with its output on failure."""
    ensure_installed()
    e = dict(os.environ, **(env or {}))
    r = subprocess.run(["node", script], env=e, capture_output=True, text=True, timeout=timeout)
    print(r.stdout)
    if r.returncode != 0:
        raise AssertionError(f"{script} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r.stdout
