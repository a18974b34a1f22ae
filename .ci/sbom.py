#!/usr/bin/env python3
"""A CycloneDX 1.5 SBOM of what the firmware is built from: every crate `Cargo.lock` pins
for the daemon's dependency graph (normal and build dependencies; dev-only crates left out),
and the web UI's npm packages that ship to the browser. Reads `cargo metadata` (offline)
and `web-ui/package-lock.json`; writes JSON to stdout.

    python3 .ci/sbom.py > target/sbom.cdx.json      (make sbom)

The image's own packages (kernel, GStreamer, libc) come from the Yocto build's SPDX
output, not from here.
"""
import json
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path

root = Path(__file__).resolve().parent.parent


def cargo_components():
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked", "--offline",
             "--filter-platform", "x86_64-unknown-linux-gnu"],
            cwd=root, check=True, capture_output=True, text=True,
        ).stdout
    )
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    daemon = next(p["id"] for p in meta["packages"] if p["name"] == "fourcastd")
    # Walk from the daemon through normal and build dependencies only.
    seen, todo = set(), [daemon]
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        for dep in nodes[pid]["deps"]:
            kinds = {k["kind"] for k in dep["dep_kinds"]}
            if kinds & {None, "build"}:
                todo.append(dep["pkg"])
    out = []
    for pid in sorted(seen, key=lambda i: (packages[i]["name"], packages[i]["version"])):
        p = packages[pid]
        local = p.get("source") is None
        c = {
            "type": "application" if p["name"] == "fourcastd" else "library",
            "bom-ref": f"pkg:cargo/{p['name']}@{p['version']}",
            "name": p["name"],
            "version": p["version"],
            "purl": f"pkg:cargo/{p['name']}@{p['version']}",
        }
        lic = p.get("license") or ("Apache-2.0" if local else None)
        if lic:
            c["licenses"] = [{"expression": lic}]
        if local:
            c["description"] = "part of Fourcast"
        out.append(c)
    return out


def npm_components():
    lock = json.loads((root / "web-ui" / "package-lock.json").read_text())
    out = []
    for path, p in sorted(lock.get("packages", {}).items()):
        if not path or p.get("dev"):
            continue
        name = path.split("node_modules/")[-1]
        c = {
            "type": "library",
            "bom-ref": f"pkg:npm/{name}@{p['version']}",
            "name": name,
            "version": p["version"],
            "purl": f"pkg:npm/{name}@{p['version']}",
        }
        if p.get("license"):
            c["licenses"] = [{"expression": p["license"]}]
        out.append(c)
    return out


def main():
    version = next(
        line.split('"')[1]
        for line in (root / "Cargo.toml").read_text().splitlines()
        if line.startswith("version = ")
    )
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "component": {
                "type": "firmware",
                "name": "fourcast",
                "version": version,
                "licenses": [{"expression": "Apache-2.0"}],
            },
        },
        "components": cargo_components() + npm_components(),
    }
    json.dump(bom, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
