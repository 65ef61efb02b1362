"""Helpers for the appliance-link tests: a relay and an agent on loopback, an admin session on
the relay, enrolment of the agent with a one-time token."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("PKI_SOURCE_DIR", "."), "tests", "relay"))
sys.path.insert(0, os.path.join(os.environ.get("PKI_SOURCE_DIR", "."), "tests", "agent"))

import agentlib  # noqa: E402
import relaytest  # noqa: E402

ADMIN, ADMIN_PW = "admin", "link test password 1"

AGENT_LINK = """
link = {{
  tls_verify = false;
  ping_ms = 2000;
  dead_ms = 8000;
  max_backoff_ms = 2000;
}};
"""


def relay(state_dir, port=None):
    """A relay Daemon on state_dir (kept across restarts), optionally on a fixed port."""
    d = relaytest.relay(state_dir=state_dir)
    if port:
        d.port = port
        with open(d.config_path, "w") as f:
            f.write(relaytest.BASE_CONFIG.format(port=port, state_dir=state_dir, dir=d.dir))
    return d


def admin(d, first=True):
    if first:
        relaytest.add_user(d, ADMIN, ADMIN_PW, admin=True)
    return relaytest.logged_in(d, ADMIN, ADMIN_PW)


def agent(extra=AGENT_LINK, env=None):
    return agentlib.agent(extra, env=env)


def agent_client(a):
    c = agentlib.Client(a.url)
    c.login()
    return c


def wait_for(fn, timeout=20, what="condition", step=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(step)


def token(rc, **body):
    r = rc.post("/api/v1/appliances/enrolment-tokens", body)
    assert r.status == 201, (r.status, r.body)
    return r.json()


def enrol(ac, tok):
    return ac.post("/api/link/enrol", {"link_url": tok["link_url"], "token": tok["token"],
                                       "relay_fingerprint": tok["relay_fingerprint"]})


def appliances(rc):
    r = rc.get("/api/v1/appliances")
    assert r.status == 200, (r.status, r.body)
    return {a["name"]: a for a in r.json()["appliances"]}


def link_state(ac):
    r = ac.get("/api/link")
    assert r.status == 200, (r.status, r.body)
    return r.json()
