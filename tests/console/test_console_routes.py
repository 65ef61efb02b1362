"""Every REST call written in the console's code names a route the relay has (pki-relay routes),
with that method where the call is direct — so a renamed or removed endpoint fails here even
when no browser walk reaches the page that uses it."""
import glob
import json
import os
import re
import tempfile

import pkitest

DIRECT = re.compile(r"\b(get|post|put|patch|del)\((['`])(/[^'`]*)\2|\bapi\('([A-Z]+)', (['`])(/[^'`]*)\5")
# helpers that take an API path and call get()/del() with it: (regex, method)
INDIRECT = [
    (re.compile(r"\bpemBlock\([^,]+,\s*(['`])(/[^'`]*)\1"), "GET"),
    (re.compile(r"\bdownloadApi\(\s*(['`])(/[^'`]*)\1"), "GET"),
    (re.compile(r"\bremoveIt\([^,]+,\s*(['`])(/[^'`]*)\1"), "DELETE"),
]
METHOD = {"get": "GET", "post": "POST", "put": "PUT", "patch": "PATCH", "del": "DELETE"}


def normalise(path):
    """A console path ('/cas/${ca.id}/certificates?${p}') as a route pattern ('/api/v1/cas/{id}/certificates')."""
    path = re.sub(r"(?<=[^/])\$\{[^}]*\}", "", path)  # ${query} glued to a segment
    path = re.sub(r"\$\{[^}]*\}", "{id}", path)        # a whole segment: an id
    return "/api/v1" + path.split("?")[0].rstrip("/")


def main():
    state = tempfile.mkdtemp(prefix="console-routes-")
    conf = os.path.join(state, "relay.conf")
    with open(conf, "w") as f:
        f.write(f'state_dir = "{state}"\n')
    out = pkitest.run([pkitest.program("pki-relay"), "--config", conf, "routes"]).stdout
    routes = {(r["method"], r["pattern"]) for r in map(json.loads, out.splitlines())}
    files = glob.glob(os.path.join(pkitest.SOURCE_DIR, "webui", "console", "js", "**", "*.js"), recursive=True)
    assert len(files) > 10, files
    direct, seen = 0, 0
    for f in files:
        text = open(f).read()
        rel = os.path.relpath(f, pkitest.SOURCE_DIR)
        for m in DIRECT.finditer(text):
            method = METHOD.get(m.group(1)) if m.group(1) else m.group(4)
            pattern = normalise(m.group(3) or m.group(6))
            assert (method, pattern) in routes, f"{rel}: {method} {pattern} is not a relay route"
            direct += 1
        for rx, method in INDIRECT:
            for m in rx.finditer(text):
                pattern = normalise(m.group(2))
                assert (method, pattern) in routes, f"{rel}: {method} {pattern} is not a relay route"
                seen += 1
    assert direct > 30 and seen >= 5, (direct, seen)
    print(f"console API calls: {direct} direct and {seen} through helpers, all known to the relay")


if __name__ == "__main__":
    main()
