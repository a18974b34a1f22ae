#!/usr/bin/env python3
"""Fleet scale: how one mosquitto holds a simulated fleet, and what the agent costs a box.

    python3 tests/bench/fleet_scale.py [--devices 100 1000] [--daemon-seconds 60]
    make fleet-scale FLEET_DEVICES="100 1000"

For each N: a local mosquitto (plain MQTT on loopback: TLS costs each connection once, not
each message, so it changes neither figure below), `fourcast-fleet simulate --devices N`
(N copies of the agent's protocol core, no media), then with `fourcast-fleet`:
  - a config push to the tag every simulated box carries: seconds until the last box's
    report arrives (goal: <= 10 s for 1000);
  - a command to the tag: round trip p50 and p99 (goal: p99 <= 500 ms);
  - the broker's and the simulator's resident memory.
Then the real agent in the daemon: `fourcastd` on the virtual board for --daemon-seconds
with the fleet off, then on (telemetry every 10 s); CPU of the runtime's threads (where the
agent runs; the media pipeline has its own threads; per-thread scheduler time sampled every
0.2 s) and the process's resident memory, compared (goal: <= 2 % of a core and <= 10 MB).
Run nothing else meanwhile.
"""
import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(ROOT, "target/release/fourcast-fleet")
DAEMON = os.path.join(ROOT, "target/release/fourcastd")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def runtime_threads_ns(pid):
    """Nanoseconds on a CPU (schedstat) of each tokio runtime thread, by thread id."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if not f.read().startswith(("tokio-runtime", "tokio-rt")):
                    continue
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                out[tid] = int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            pass
    return out


def runtime_cpu_pct(pid, seconds):
    """Share of one core the runtime's threads used over `seconds`. Sampled every 0.2 s and
    summed per thread, so threads of the blocking pool that start and stop are counted."""
    used, last = 0, runtime_threads_ns(pid)
    t0 = time.time()
    while time.time() - t0 < seconds:
        time.sleep(0.2)
        now = runtime_threads_ns(pid)
        used += sum(ns - last.get(tid, 0) for tid, ns in now.items())
        last = now
    return used / 1e9 / (time.time() - t0) * 100


def start_broker(work):
    port = free_port()
    conf = os.path.join(work, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write(f"user root\npersistence false\nlog_dest none\nlistener {port} 127.0.0.1\n"
                "allow_anonymous true\nmax_connections -1\nmax_queued_messages 10000\n")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    p = subprocess.Popen(["mosquitto", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return p, port
        except OSError:
            time.sleep(0.05)
    sys.exit("mosquitto did not start")


def tool(port, *args):
    out = subprocess.run([TOOL, "--broker", f"mqtt://127.0.0.1:{port}", "--lab-plain-mqtt",
                          "--tenant", "bench", "--json", *args], capture_output=True, text=True)
    try:
        return json.loads(out.stdout)
    except json.JSONDecodeError:
        sys.exit(f"fourcast-fleet {args}: {out.stderr or out.stdout}")


def scale(n, work):
    broker, port = start_broker(work)
    sim = subprocess.Popen([TOOL, "--broker", f"mqtt://127.0.0.1:{port}", "--lab-plain-mqtt",
                            "--tenant", "bench", "simulate", "--devices", str(n), "--prefix", f"sim{n}",
                            "--tag", "sim"], stdout=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        line = sim.stdout.readline()
        if f" {n} of {n} " in line:
            break
    else:
        sys.exit(f"the {n} simulated boxes did not all connect")
    config = os.path.join(work, "push.json")
    with open(config, "w") as f:
        f.write(subprocess.run([DAEMON, "default-config"], capture_output=True, text=True).stdout)
    os.rename(config, config.replace(".json", ".toml"))
    push = tool(port, "config", "push", "--tag", "sim", config.replace(".json", ".toml"),
                "--discover", "4", "--timeout", "30")
    cmd = tool(port, "cmd", "--tag", "sim", "take", '{"scene": "main"}', "--timeout", "30")
    answered = sum(1 for r in cmd["results"] if r["status"] == 200)
    row = {
        "devices": n,
        "push_applied": len(push["applied"]),
        "push_converged_s": round(push["converged_s"], 2),
        "cmd_answered": answered,
        "cmd_rtt_p50_ms": round(cmd["rtt_p50_ms"] or 0, 1),
        "cmd_rtt_p99_ms": round(cmd["rtt_p99_ms"] or 0, 1),
        "broker_rss_mb": round(rss_mb(broker.pid), 1),
        "simulator_rss_mb": round(rss_mb(sim.pid), 1),
    }
    sim.kill()
    broker.kill()
    sim.wait()
    broker.wait()
    return row


def daemon_cost(work, seconds, fleet_port):
    rows = {}
    for label in ("fleet off", "fleet on"):
        data = tempfile.mkdtemp(dir=work)
        text = subprocess.run([DAEMON, "default-config"], capture_output=True, text=True).stdout
        if label == "fleet on":
            text += (f'\n[fleet]\nenabled = true\nbroker = "mqtt://127.0.0.1:{fleet_port}"\n'
                     'lab_plain_mqtt = true\ntenant = "bench"\ndevice_id = "real-box"\ntelemetry_s = 10\n')
        conf = os.path.join(data, "box.toml")
        with open(conf, "w") as f:
            f.write(text)
        d = subprocess.Popen([DAEMON, "run", "--config", conf, "--data-dir", os.path.join(data, "d"),
                              "--listen", f"127.0.0.1:{free_port()}"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(15)  # warm-up: pipelines built, first connection made
        cpu = runtime_cpu_pct(d.pid, seconds)
        rows[label] = {"runtime_cpu_pct": round(cpu, 3), "rss_mb": round(rss_mb(d.pid), 1)}
        d.terminate()
        d.wait()
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--daemon-seconds", type=int, default=60)
    args = ap.parse_args()
    for exe in (TOOL, DAEMON):
        if not os.path.exists(exe):
            sys.exit(f"{exe} is missing: make build")
    if not shutil.which("mosquitto"):
        sys.exit("mosquitto is not installed: apt-get install mosquitto (make test-deps)")
    work = tempfile.mkdtemp(prefix="fleet-scale-")
    try:
        rows = [scale(n, work) for n in args.devices]
        print(f"{'boxes':>6} {'applied':>8} {'converged s':>12} {'answered':>9} {'rtt p50 ms':>11} "
              f"{'rtt p99 ms':>11} {'broker MB':>10} {'simulator MB':>13}")
        for r in rows:
            print(f"{r['devices']:>6} {r['push_applied']:>8} {r['push_converged_s']:>12} {r['cmd_answered']:>9} "
                  f"{r['cmd_rtt_p50_ms']:>11} {r['cmd_rtt_p99_ms']:>11} {r['broker_rss_mb']:>10} "
                  f"{r['simulator_rss_mb']:>13}")
        broker, port = start_broker(work)
        cost = daemon_cost(work, args.daemon_seconds, port)
        broker.kill()
        off, on = cost["fleet off"], cost["fleet on"]
        print(f"\nthe agent in the daemon ({args.daemon_seconds} s each, telemetry every 10 s):")
        print(f"  runtime threads' CPU: {off['runtime_cpu_pct']} % of a core off, {on['runtime_cpu_pct']} % on "
              f"(+{round(on['runtime_cpu_pct'] - off['runtime_cpu_pct'], 3)} %)")
        print(f"  resident memory: {off['rss_mb']} MB off, {on['rss_mb']} MB on "
              f"({round(on['rss_mb'] - off['rss_mb'], 1):+} MB)")
        out = os.path.join(ROOT, "target/bench")
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "fleet_scale.json"), "w") as f:
            json.dump({"scale": rows, "agent": cost}, f, indent=2)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
