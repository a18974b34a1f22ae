#!/usr/bin/env python3
"""Staged OTA rollouts over a simulated fleet: how `fourcast-fleet ota rollout` widens, and
where it stops.

    python3 tests/bench/ota_rollout.py [--devices 1000]
    make ota-rollout OTA_DEVICES=1000

A local mosquitto, `fourcast-fleet simulate --devices N` whose boxes play an update job
(`--ota-seconds 2`: phases as events, then `succeeded`, or `rolled_back` for
`--ota-fail-pct` of them, spread evenly), then `ota rollout --batch 10 --max-failures 10%`
(each batch twice the last, the next only when every box of the last has ended) for each
failure rate. Prints what each rollout did: aborted or done, boxes succeeded, failed and
untouched, seconds. Run nothing else meanwhile.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fleet_scale import TOOL, start_broker, tool  # noqa: E402


def rollout(n, fail_pct, work):
    broker, port = start_broker(work)
    sim = subprocess.Popen([TOOL, "--broker", f"mqtt://127.0.0.1:{port}", "--lab-plain-mqtt",
                            "--tenant", "bench", "simulate", "--devices", str(n), "--prefix", "box",
                            "--tag", "venue", "--ota-fail-pct", str(fail_pct), "--ota-seconds", "2"],
                           stdout=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        if f" {n} of {n} " in sim.stdout.readline():
            break
    else:
        sys.exit(f"the {n} simulated boxes did not all connect")
    r = tool(port, "ota", "rollout", "--tag", "venue", "--bundle", "https://updates.example/fw.raucb",
             "--sha256", "ab" * 32, "--batch", "10", "--rate", "100000/min", "--max-failures", "10%",
             "--discover", "4")
    sim.kill()
    broker.kill()
    sim.wait()
    broker.wait()
    c = r["counts"]
    return {"fail_pct": fail_pct, "aborted": bool(r["aborted"]), "succeeded": c["succeeded"],
            "failed": c["failed"], "untouched": c["untouched"], "seconds": round(r["seconds"], 1),
            "why": r["aborted"] or ""}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", type=int, default=1000)
    ap.add_argument("--fail-pct", type=int, nargs="+", default=[0, 5, 15])
    args = ap.parse_args()
    if not os.path.exists(TOOL):
        sys.exit(f"{TOOL} is missing: make build")
    if not shutil.which("mosquitto"):
        sys.exit("mosquitto is not installed: apt-get install mosquitto (make test-deps)")
    work = tempfile.mkdtemp(prefix="ota-rollout-")
    try:
        rows = [rollout(args.devices, p, work) for p in args.fail_pct]
        print(f"{'boxes':>6} {'failing':>8} {'outcome':>8} {'succeeded':>10} {'failed':>7} {'untouched':>10} {'s':>6}")
        for r in rows:
            outcome = "aborted" if r["aborted"] else "done"
            print(f"{args.devices:>6} {r['fail_pct']:>7}% {outcome:>8} {r['succeeded']:>10} {r['failed']:>7} "
                  f"{r['untouched']:>10} {r['seconds']:>6}")
        for r in rows:
            if r["why"]:
                print(f"  {r['fail_pct']} % failing: {r['why']}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
