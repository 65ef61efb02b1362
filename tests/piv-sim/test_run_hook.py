"""scripts/run.d/10-pcsc.sh as scripts/run.sh uses it: sourced with $root, $run_dir and `pids`, it
starts a private pcscd and two virtual keys that yubico-piv-tool reaches through the exported
PCSCLITE_CSOCK_NAME; killing `pids` (what run.sh does on Ctrl-C) stops everything, and the keys'
state survives into the next start."""

import os
import re
import shutil
import subprocess
import sys
import tempfile

SCRIPT = r'''
set -euo pipefail
root="$1"; run_dir="$2"; pids=()
mkdir -p "$run_dir/logs"
source "$root/scripts/run.d/10-pcsc.sh"
trap 'for ((i=${#pids[@]}-1; i>=0; i--)); do kill -TERM "${pids[$i]}" 2>/dev/null || true; done; for p in "${pids[@]}"; do wait "$p" || true; done' EXIT
for i in $(seq 50); do
  n=$(yubico-piv-tool -a list-readers 2>/dev/null | grep -c 'Yubico YubiKey' || true)
  [ "$n" = 2 ] && break
  sleep 0.1
done
yubico-piv-tool -r "CCID 00 00" -a status
yubico-piv-tool -r "CCID 00 01" -a status
echo "PIDS ${#pids[@]}"
'''


def run(root, run_dir):
    env = dict(os.environ)
    env["PKI_PIVSIM_BIN"] = os.path.join(os.environ["PKI_BUILD_DIR"], "tools", "piv-sim", "piv-sim")
    env["PKI_PIVSIM_KEYS"] = "2"
    env["PKI_PIVSIM"] = "force"
    env.pop("PCSCLITE_CSOCK_NAME", None)
    r = subprocess.run(["bash", "-c", SCRIPT, "hook", root, run_dir], env=env, timeout=120,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def main():
    root = os.environ["PKI_SOURCE_DIR"]
    run_dir = tempfile.mkdtemp(prefix="pivsim-run-")
    try:
        out = run(root, run_dir)
        serials = re.findall(r"Serial Number:\t(\d+)", out)
        assert len(serials) == 2 and serials[0] != serials[1], out
        assert "PIDS 3" in out, out  # pcscd + two simulators, all for run.sh to stop
        assert "private pcscd" in out, out
        # nothing of ours is left running
        ps = subprocess.run(["ps", "-eo", "args"], stdout=subprocess.PIPE, text=True).stdout
        assert run_dir not in ps, ps
        # a second start finds the same keys
        again = run(root, run_dir)
        assert re.findall(r"Serial Number:\t(\d+)", again) == serials, again
        assert os.path.exists(os.path.join(run_dir, "piv-sim", "ca", "attestation-ca.pem"))
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    print("ok")


if __name__ == "__main__":
    sys.exit(main())
