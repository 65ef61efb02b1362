"""Speed of the virtual YubiKey through pcscd + vpcd (not a ctest; run by hand):

    PYTHONPATH=tests/harness PKI_BUILD_DIR=build python3 tests/piv-sim/bench_pivsim.py

Prints start-up time of a PcscEnv, key generation and signing through yubico-piv-tool, and the
raw APDU round trip."""

import statistics
import sys
import time

from pivsim import PcscEnv
from pivtool import Tool


def median_time(fn, n):
    ts = []
    for _ in range(n):
        t0 = time.monotonic()
        fn()
        ts.append(time.monotonic() - t0)
    return statistics.median(ts)


def main():
    for n in (1, 4):
        t0 = time.monotonic()
        with PcscEnv(n_keys=n) as env:
            print("PcscEnv(n_keys=%d) start: %.2f s" % (n, time.monotonic() - t0))
            if n != 1:
                continue
            tool = Tool(env)
            for algo in ("ECCP256", "ECCP384", "RSA2048"):
                print("generate %s: %.3f s" % (algo, median_time(lambda: tool.generate("9a", algo), 3)))
                print("verify-pin + sign %s: %.3f s" % (
                    algo, median_time(lambda: tool.sign("9a", algo, b"x" * 100), 5)))
            with env.session(0) as s:
                s.transmit(bytes.fromhex("00a4040005a000000308"))
                rtt = median_time(lambda: s.transmit(bytes.fromhex("00fd000000")), 200)
                print("APDU round trip (GET VERSION): %.2f ms" % (rtt * 1000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
