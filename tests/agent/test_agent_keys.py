"""YubiKeys coming and going, and PIN safety, through the agent's JSON API on virtual keys:
hot-plug (keys appear and disappear while the agent runs; pulling a key in the middle of an
operation gives a clear error and the agent stays up), and PINs (the factory PIN is never tried
behind the operator's back, a wrong PIN reports the retries left and costs exactly one retry, a
blocked PIN is reported and signing refuses)."""
import threading
import time

import pkitest
from agentlib import (PIN, Client, agent, expect, keys, make_template, piv_tool, set_up,
                      wait_for, wait_key)
from pivsim import PcscEnv


def pin_tries(env, i):
    out = piv_tool(env, env.readers[i], "-a", "status").stdout
    line = [l for l in out.splitlines() if l.startswith("PIN tries left")][0]
    return int(line.split(":")[1])


def check_no_silent_default_pin(c, env, d):
    # Key 1 has a non-default PIN set outside the agent: had the agent tried "123456" on its
    # own, a retry would be gone.
    serial = env.serials[1]
    wait_key(c, serial)
    expect(c.post("/api/keys/reload"), 200)
    c.get(f"/api/keys/{serial}")
    assert pin_tries(env, 1) == 3
    assert keys(c)[serial]["pin_retries"] == 3


def check_hotplug(c, env, d):
    a, b = env.serials
    assert set(keys(c)) == {a, b}
    env.remove(1)
    wait_key(c, b, present=False, timeout=10)
    expect(c.get(f"/api/keys/{b}"), 404, "no_key")
    expect(c.post(f"/api/keys/{b}/verify-pin", {"pin": PIN}), 404, "no_key")
    env.insert(1)
    k = wait_key(c, b, present=True, timeout=10)
    assert keys(c)[b]["serial"] == b


def check_removed_mid_operation(c, env, d, work):
    serial = env.serials[0]
    expect(c.post(f"/api/keys/{serial}/slots/9a/generate",
                  {"pin": PIN, "algorithm": "ec-p256", "touch_policy": "always"}), 200)
    template = make_template(work)
    result = {}

    def provision():
        result["r"] = c.post(f"/api/keys/{serial}/slots/9a/provision",
                             {"pin": PIN, "template": template, "mode": "self-signed"})

    t = threading.Thread(target=provision)
    t.start()
    time.sleep(1.5)  # the card now waits for a touch that never comes
    assert t.is_alive(), "the signature should wait for a touch"
    env.remove(0)
    t.join(60)
    r = result["r"]
    expect(r, 503, "card_absent")
    assert "removed" in r.json()["error"]["message"]
    expect(c.get("/healthz"), 200)
    wait_key(c, serial, present=False)
    env.insert(0)
    wait_key(c, serial, present=True)
    # nothing half-written: the slot is still waiting for its certificate
    view = expect(c.get(f"/api/keys/{serial}/slots/9a"), 200).json()
    assert view["state"] == "key_generated" and "certificate" not in view


def check_pin_safety(c, env, d, work):
    serial = env.serials[0]
    expect(c.post(f"/api/keys/{serial}/slots/9c/generate",
                  {"pin": PIN, "algorithm": "ec-p256", "pin_policy": "always"}), 200)
    template = make_template(work)
    r = expect(c.post(f"/api/keys/{serial}/verify-pin", {"pin": "999999"}), 403, "wrong_pin")
    assert r.json()["error"]["retries"] == 2 and "2 retries left" in r.json()["error"]["message"]
    assert pin_tries(env, 0) == 2, "exactly one attempt"
    # a signing operation with a wrong PIN costs one retry, not one per card operation
    r = expect(c.post(f"/api/keys/{serial}/slots/9c/provision",
                      {"pin": "888888", "template": template, "mode": "self-signed"}), 403,
               "wrong_pin")
    assert r.json()["error"]["retries"] == 1
    assert pin_tries(env, 0) == 1
    assert keys(c)[serial]["pin_retries"] == 1
    view = expect(c.get(f"/api/keys/{serial}/slots/9c"), 200).json()
    assert view["state"] == "key_generated" and "certificate" not in view
    # the right PIN resets the counter
    expect(c.post(f"/api/keys/{serial}/verify-pin", {"pin": PIN}), 200)
    assert pin_tries(env, 0) == 3
    # block it
    for left in (2, 1):
        r = expect(c.post(f"/api/keys/{serial}/verify-pin", {"pin": "111111"}), 403, "wrong_pin")
        assert r.json()["error"]["retries"] == left
    r = expect(c.post(f"/api/keys/{serial}/verify-pin", {"pin": "111111"}), 423, "pin_blocked")
    assert r.json()["error"]["retries"] == 0 and "blocked" in r.json()["error"]["message"]
    assert keys(c)[serial]["pin_retries"] == 0
    # signing refuses, even with the right PIN, and says why
    r = expect(c.post(f"/api/keys/{serial}/slots/9c/provision",
                      {"pin": PIN, "template": template, "mode": "self-signed"}), 423,
               "pin_blocked")
    # without a PIN the card itself refuses, and the answer still says the PIN is blocked
    r = expect(c.post(f"/api/keys/{serial}/slots/9c/provision",
                      {"template": template, "mode": "self-signed"}), 423, "pin_blocked")
    assert r.json()["error"]["retries"] == 0
    expect(c.get("/healthz"), 200)
    audit = [e["event"] for e in c.get("/api/audit").json()]
    assert "pin_failed" in audit


def main():
    import tempfile
    work = tempfile.mkdtemp(prefix="agent-keys-")
    with PcscEnv(n_keys=2) as env:
        piv_tool(env, env.readers[1], "-a", "change-pin", "-P", "123456", "-N", "555555")
        d = agent(env=env.env)
        with d:
            c = Client(d.url)
            c.login()
            wait_key(c, env.serials[0])
            check_no_silent_default_pin(c, env, d)
            check_hotplug(c, env, d)
            set_up(c, env.serials[0])
            check_removed_mid_operation(c, env, d, work)
            check_pin_safety(c, env, d, work)
            for secret in (PIN, "999999", "888888"):
                assert secret not in d.output(), secret
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
