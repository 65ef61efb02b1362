"""Smoke test of the PKI core benchmark (`scripts/bench.sh pki`): scripts/bench/pki.sh, run
against this build's pki_bench with tiny sizes, prints every BENCH line it promises with positive
numbers. Nothing here is timed or compared with a goal: that is the benchmark's job, on a Release
build. It also checks that the benchmark's CRL really holds the entries it claims to sign and that
pki_bench refuses bad arguments with a message."""
import os
import re

from pkitest import run

BUILD = os.environ["PKI_BUILD_DIR"]
SOURCE = os.environ["PKI_SOURCE_DIR"]
BENCH = os.path.join(BUILD, "tests", "pki-build", "pki_bench")
ENTRIES = 2000

# name -> unit; every line has a baseline and a ratio
EXPECTED = {
    "pki_cert_build_sign_p256_vs_raw_sign": "certs/s",
    "pki_cert_build_sign_rsa2048_vs_raw_sign": "certs/s",
    "pki_crl_1m_entries_build_sign_time": "s",
    "pki_crl_1m_entries_peak_rss": "MiB",
}
LINE = re.compile(r"^BENCH name=(\S+) value=(\S+) unit=(\S+) baseline=(\S+) ratio=(\S+)$")


def bench_lines():
    env = dict(os.environ, PKI_BENCH_SECONDS="0.3", PKI_BENCH_CRL_ENTRIES=str(ENTRIES))
    out = run(["bash", os.path.join(SOURCE, "scripts", "bench", "pki.sh")], env=env,
              timeout=600).stdout
    lines = {}
    for text in out.splitlines():
        m = LINE.match(text)
        assert m, f"not a BENCH line: {text!r}\n{out}"
        name, value, unit, baseline, ratio = m.groups()
        assert name not in lines, f"{name} printed twice:\n{out}"
        lines[name] = (float(value), unit, float(baseline), float(ratio))
    return lines, out


def main():
    lines, out = bench_lines()
    assert set(lines) == set(EXPECTED), out
    for name, unit in EXPECTED.items():
        value, got_unit, baseline, ratio = lines[name]
        assert got_unit == unit, (name, got_unit)
        assert value > 0 and baseline > 0 and ratio > 0, (name, out)
        # ratio is value / baseline, rounded to three places by the script
        assert abs(ratio - value / baseline) <= 0.0005 + 0.001 * ratio, (name, out)
    # The goals are the baselines of the CRL lines (2 s, 256 MiB).
    assert lines["pki_crl_1m_entries_build_sign_time"][2] == 2
    assert lines["pki_crl_1m_entries_peak_rss"][2] == 256

    # The CRL is really built: every entry holds at least a 16-octet serial and a UTCTime.
    out = run([BENCH, "crl", str(ENTRIES)]).stdout
    m = re.fullmatch(r"seconds=([0-9.]+) peak_rss_kib=([0-9]+) der_bytes=([0-9]+)\n", out)
    assert m, out
    assert int(m.group(3)) >= ENTRIES * (2 + 18 + 15), out

    for args, message in ((["crl", "0"], "ENTRIES must be positive"),
                          (["sign", "ed448", "1"], "p256 or rsa2048"),
                          (["nonsense"], "usage: pki_bench")):
        r = run([BENCH, *args], check=False)
        assert r.returncode != 0 and message in r.stderr, (args, r.stderr)
    print("ok")


if __name__ == "__main__":
    main()
