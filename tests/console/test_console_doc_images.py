"""docs/console.md and the browser walk cannot drift apart: every screenshot the page shows
(console/NAME.png) is in docs/console/, is named after a step or shot the walk takes (step('NAME')
or s.shot('NAME') in walk.mjs), and no picture in docs/console/ is left unused. And
update-doc-screenshots.sh copies exactly those pictures from a walk's numbered artifacts."""
import os
import re
import subprocess
import tempfile

SRC = os.environ.get("PKI_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
DOC = os.path.join(SRC, "docs", "console.md")
IMAGES = os.path.join(SRC, "docs", "console")
WALK = os.path.join(SRC, "tests", "console", "walk.mjs")
SCRIPT = os.path.join(SRC, "tests", "console", "update-doc-screenshots.sh")
PNG = b"\x89PNG\r\n\x1a\n"


def main():
    with open(DOC) as f:
        doc = f.read()
    # every image reference, in Markdown or HTML, that points into docs/console/
    refs = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)|<img [^>]*src=\"([^\"]+)\"", doc)
    refs = [a or b for a, b in refs]
    assert refs, "docs/console.md shows no screenshot"
    bad = [r for r in refs if not re.fullmatch(r"console/[a-z0-9-]+\.png", r)]
    assert not bad, f"images outside docs/console/ or not named like a walk step: {bad}"
    names = sorted({r[len("console/"):-len(".png")] for r in refs})

    with open(WALK) as f:
        walk = f.read()
    shots = set(re.findall(r"\b(?:step|s\.shot)\('([a-z0-9-]+)'", walk))
    assert len(shots) > 20, shots  # the pattern still finds the walk's steps
    not_walked = [n for n in names if n not in shots]
    assert not not_walked, f"docs/console.md shows pictures no walk step takes: {not_walked}"

    for n in names:
        path = os.path.join(IMAGES, n + ".png")
        assert os.path.isfile(path), f"docs/console.md shows {n}.png, missing in docs/console/"
        with open(path, "rb") as f:
            assert f.read(8) == PNG, f"{path} is not a PNG"
    unused = sorted(set(f[:-4] for f in os.listdir(IMAGES) if f.endswith(".png")) - set(names))
    assert not unused, f"pictures in docs/console/ that docs/console.md does not show: {unused}"

    # the copy script takes exactly the referenced shots from a walk's numbered artifacts
    with tempfile.TemporaryDirectory() as t:
        art, dst = os.path.join(t, "console"), os.path.join(t, "out")
        os.makedirs(art)
        for i, n in enumerate(sorted(shots), 1):
            with open(os.path.join(art, f"{i:02d}-{n}.png"), "wb") as f:
                f.write(PNG + n.encode())
        r = subprocess.run(["sh", SCRIPT, art, dst], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        assert sorted(os.listdir(dst)) == sorted(n + ".png" for n in names), os.listdir(dst)
        for n in names:
            with open(os.path.join(dst, n + ".png"), "rb") as f:
                assert f.read() == PNG + n.encode(), n
        # a missing shot is an error that names it, not a silently stale picture
        os.remove(os.path.join(art, [f for f in os.listdir(art) if f.endswith(f"-{names[0]}.png")][0]))
        r = subprocess.run(["sh", SCRIPT, art, os.path.join(t, "out2")], capture_output=True, text=True)
        assert r.returncode != 0 and f"missing screenshot: {names[0]}" in r.stderr, r.stderr
    print(f"console doc images: OK ({len(names)} pictures, all taken by the walk)")


if __name__ == "__main__":
    main()
