"""Driver of scripts/bench/link.sh: relay + agent + pcscd/vpcd/piv-sim (two virtual keys) on
loopback. Prints BENCH lines:
  link_sign_median_ms / link_sign_p99_ms  one signature relay -> agent -> piv-sim, as the
      relay's signer takes it (from the request sealed to the answer verified against the CA
      key; the relay reports it in a Server-Timing header), asked through the admin API on a
      kept-alive HTTPS connection; baseline: the same signature made directly on piv-sim with
      libykpiv in the same run (yk-direct-sign)
  link_sign_added_median_ms  the difference of the medians (goal: <= 3 ms)
  link_api_sign_median_ms / _p99_ms  the same signatures as the API caller sees them
  link_cpu_us_per_sig_relay / _agent  CPU (user + system) each daemon spends per signature
  link_sigs_per_s_1key / _2keys  signatures per second from BENCH_CLIENTS parallel clients
  link_seal_median_us / link_open_median_us  one envelope sealed / opened in-process
      (tests/link/bench-envelope): the link's own cryptography, twice of each per signature
"""
import base64
import http.client
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

src = os.environ["PKI_SOURCE_DIR"]
for p in ("tests/harness", "tests/link", "tests/relay", "tests/agent"):
    sys.path.insert(0, os.path.join(src, p))

import linktest  # noqa: E402
from agentlib import set_up, wait_key  # noqa: E402
from pivsim import PcscEnv  # noqa: E402

N = int(os.environ.get("BENCH_RUNS", "300"))
SECS = float(os.environ.get("BENCH_SECONDS", "10"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))


def bench(name, value, unit, baseline=None):
    line = f"BENCH name={name} value={value} unit={unit}"
    if baseline is not None:
        ratio = "inf" if baseline == 0 else f"{value / baseline:.3f}"
        line += f" baseline={baseline} ratio={ratio}"
    print(line, flush=True)


def p99(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * 0.99))]


def cpu_seconds(pid):
    """User + system CPU time of a process so far (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Api:
    """A kept-alive HTTPS connection to the relay with the admin session."""

    def __init__(self, r, rc):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.conn = http.client.HTTPSConnection("127.0.0.1", r.port, context=ctx, timeout=30)
        self.headers = {"Content-Type": "application/json", "X-CSRF-Token": rc.csrf,
                        "Cookie": "; ".join(f"{k}={v}" for k, v in rc.cookies.items())}

    def sign(self, body):
        self.conn.request("POST", "/api/v1/appliances/signature", json.dumps(body), self.headers)
        res = self.conn.getresponse()
        data = res.read()
        if res.status != 200:
            raise RuntimeError(f"{res.status}: {data[:300]!r}")
        # The relay's own figure: its signer, from the request sealed to the answer verified.
        timing = res.getheader("Server-Timing", "")
        if not timing.startswith("appliance;dur="):
            raise RuntimeError(f"no Server-Timing in the answer: {timing!r}")
        return float(timing.split("dur=", 1)[1].split(";")[0])


def main():
    work = tempfile.mkdtemp(prefix="bench-link-")
    state = tempfile.mkdtemp(prefix="bench-link-relay-")
    os.chmod(state, 0o700)
    with PcscEnv(n_keys=2) as env, linktest.relay(state) as r:
        rc = linktest.admin(r)
        ag = linktest.agentlib.agent(linktest.AGENT_LINK, env=env.env)
        slots = []
        with ag:
            ac = linktest.agent_client(ag)
            for serial in env.serials:
                wait_key(ac, serial)
                set_up(ac, serial)
                ca = linktest.self_signed_ca(ac, serial, work)
                slots.append((serial, linktest.pub_pem(ca),
                              base64.b64encode(linktest.tbs_crl(ca.subject)).decode()))

            # Baseline in the same run, before the link carries anything: libykpiv straight
            # to piv-sim.
            tool = os.path.join(os.environ["PKI_BUILD_DIR"], "tests", "link", "yk-direct-sign")
            out = subprocess.run([tool, env.readers[0], "9c", str(N)],
                                 env={**os.environ, **env.env}, capture_output=True, text=True,
                                 timeout=600, check=True).stdout
            direct = [int(x) / 1000 for x in out.split()]

            device = linktest.enrol_online(ac, rc)

            def body(i):
                serial, pub, tbs = slots[i]
                return {"appliance": device, "slot": f"{serial}/9c", "tbs": tbs,
                        "public_key": pub, "algorithm": "ecdsa-with-SHA256"}

            api = Api(r, rc)
            for _ in range(10):
                api.sign(body(0))  # warm-up
            times, signer = [], []
            cpu0 = {k: cpu_seconds(p.proc.pid) for k, p in (("relay", r), ("agent", ag))}
            for _ in range(N):
                t0 = time.perf_counter()
                signer.append(api.sign(body(0)))
                times.append((time.perf_counter() - t0) * 1000)
            cpu = {k: (cpu_seconds(p.proc.pid) - cpu0[k]) * 1e6 / N
                   for k, p in (("relay", r), ("agent", ag))}
            med, dmed = statistics.median(signer), statistics.median(direct)
            bench("link_sign_median_ms", round(med, 2), "ms", round(dmed, 2))
            bench("link_sign_p99_ms", round(p99(signer), 2), "ms", round(p99(direct), 2))
            bench("link_sign_added_median_ms", round(med - dmed, 2), "ms", 3.0)
            # The same signatures as the API caller saw them (HTTPS, JSON, the Python client).
            bench("link_api_sign_median_ms", round(statistics.median(times), 2), "ms",
                  round(dmed, 2))
            bench("link_api_sign_p99_ms", round(p99(times), 2), "ms", round(p99(direct), 2))
            # CPU each daemon spends per signature (user + system, all threads): the least
            # noisy figure on a shared machine, and where the added time goes.
            bench("link_cpu_us_per_sig_relay", round(cpu["relay"]), "us")
            bench("link_cpu_us_per_sig_agent", round(cpu["agent"]), "us")

            def throughput(nkeys):
                count = [0] * CLIENTS
                stop = time.monotonic() + SECS

                def worker(k):
                    a = Api(r, rc)
                    while time.monotonic() < stop:
                        a.sign(body(k % nkeys))
                        count[k] += 1

                ts = [threading.Thread(target=worker, args=(k,)) for k in range(CLIENTS)]
                t0 = time.monotonic()
                for t in ts:
                    t.start()
                for t in ts:
                    t.join()
                return sum(count) / (time.monotonic() - t0)

            # The envelope alone, in-process: what each side pays per message.
            tool = os.path.join(os.environ["PKI_BUILD_DIR"], "tests", "link", "bench-envelope")
            out = subprocess.run([tool, "1000"], capture_output=True, text=True, timeout=600,
                                 check=True).stdout
            for line in out.splitlines():
                parts = line.split()
                if len(parts) >= 3 and parts[0] in ("link_seal", "link_unwrap", "link_verify") \
                        and parts[1] == "median":
                    bench(f"{parts[0]}_median_us", float(parts[2]), "us")
                if line.startswith("link_open (no replay)"):
                    bench("link_open_median_us", float(line.split("median")[1].split()[0]), "us")

            one = throughput(1)
            two = throughput(2)
            bench("link_sigs_per_s_1key", round(one, 1), "sig/s")
            bench("link_sigs_per_s_2keys", round(two, 1), "sig/s", round(one, 1))


if __name__ == "__main__":
    main()
