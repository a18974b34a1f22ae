#!/usr/bin/env python3
"""Soak: the box running a long show, judged for growth.

    python3 tests/bench/soak.py [--minutes 60] [--warmup 5] [--daemon target/release/fourcastd]
    make soak SOAK_MINUTES=60

Runs the release daemon on the virtual board (loopback only) with what a show uses at once:
an SRT uplink to a receiver (`srt-live-transmit` as listener, its output thrown away), a
second SRT uplink the box listens on with a receiver calling it, recording (files split
every 10 min, into a temporary directory), the HLS origin read like a player (every
playlist and the newest segment of each rung every 2 s) and the web UI's polling (status,
every thumbnail, the audio meters every 2 s). Every 10 s it samples the daemon's resident
memory, open descriptors, threads, CPU and the program's dropped frames, into
`target/soak/soak.csv`, and prints a line.

It fails (exit 1) on growth after the warm-up: resident memory more than 5 % over its value
at the end of the warm-up; descriptors or threads whose last quarter never comes back down
to the first quarter's range (they come and go with requests and the bounded blocking
pool); any dropped frame. The fleet agent is connected throughout to a local mosquitto (plain
MQTT on loopback), publishing telemetry every 10 s; the soak fails if the link is not
connected at the end.
Run nothing else on the machine meanwhile: on 2 cores, another build drops frames.
"""
import argparse
import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def read_all(s):
    """Everything the server sends until it closes the connection."""
    out = b""
    while True:
        d = s.recv(1 << 16)
        if not d:
            break
        out += d
    s.close()
    return out


class Box:
    def __init__(self, port, token):
        self.port, self.token = port, token

    def get(self, path, auth=True):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        head = f"GET {path} HTTP/1.1\r\nHost: box\r\nConnection: close\r\n"
        if auth:
            head += f"Authorization: Bearer {self.token}\r\n"
        s.sendall((head + "\r\n").encode())
        out = read_all(s)
        head, _, body = out.partition(b"\r\n\r\n")
        return int(head.split(b" ")[1]), body

    def post(self, path, body, headers=""):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        b = body.encode()
        s.sendall(
            (f"POST {path} HTTP/1.1\r\nHost: box\r\nConnection: close\r\n"
             f"Content-Type: application/json\r\nContent-Length: {len(b)}\r\n{headers}\r\n").encode()
            + b
        )
        out = read_all(s)
        return out.decode(errors="replace")


def proc_sample(pid):
    with open(f"/proc/{pid}/status") as f:
        st = f.read()
    rss = int(st.split("VmRSS:")[1].split()[0]) // 1024
    threads = int(st.split("Threads:")[1].split()[0])
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu_ticks = int(fields[11]) + int(fields[12])
    return rss, fds, threads, cpu_ticks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument("--split-seconds", type=int, default=600,
                    help="recording split; short splits exercise file rotation")
    ap.add_argument("--daemon", default=os.path.join(ROOT, "target/release/fourcastd"))
    args = ap.parse_args()
    for tool, package in [("srt-live-transmit", "srt-tools"), ("mosquitto", "mosquitto")]:
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: install {package} (make test-deps does)")
    work = tempfile.mkdtemp(prefix="fourcast-soak-")
    out_dir = os.path.join(ROOT, "target", "soak")
    os.makedirs(out_dir, exist_ok=True)
    http_port, srt_out, srt_listen = free_port(), free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_DGRAM)
    default = subprocess.run([args.daemon, "default-config"], capture_output=True, text=True, check=True).stdout
    rec = os.path.join(work, "recordings")
    os.makedirs(rec)
    # The default's [recording] table, replaced by one that records here.
    head, _, tail = default.partition("[recording]\n")
    tail = tail[tail.index("\n["):] if "\n[" in tail else ""
    config = head + f"""[recording]
path = "{rec}"
split_seconds = {args.split_seconds}
free_space_floor_mb = 1024
delete_oldest = true
""" + tail + f"""

[[outputs.srt]]
name = "origin"
mode = "caller"
host = "127.0.0.1"
port = {srt_out}
rung = "720p"

[[outputs.srt]]
name = "monitor"
mode = "listener"
bind = "127.0.0.1"
port = {srt_listen}
rung = "360p"
"""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from fleet_scale import start_broker
    broker, mqtt_port = start_broker(work)
    config += f"""
[fleet]
enabled = true
broker = "mqtt://127.0.0.1:{mqtt_port}"
lab_plain_mqtt = true
tenant = "soak"
device_id = "soak-box"
telemetry_s = 10
"""
    cfg = os.path.join(work, "box.toml")
    with open(cfg, "w") as f:
        f.write(config)
    check = subprocess.run([args.daemon, "check-config", cfg], capture_output=True, text=True)
    if check.returncode != 0:
        sys.exit(f"soak config refused:\n{check.stdout}{check.stderr}")
    procs = [broker]
    devnull = open(os.devnull, "w")
    procs.append(subprocess.Popen(
        ["srt-live-transmit", "-q", "-a:no", f"srt://:{srt_out}?mode=listener", "file://con"],
        stdout=devnull, stderr=devnull))
    log = open(os.path.join(work, "daemon.log"), "w")
    daemon = subprocess.Popen(
        [args.daemon, "run", "--config", cfg, "--data-dir", os.path.join(work, "data"),
         "--listen", f"127.0.0.1:{http_port}"], stdout=devnull, stderr=log)
    stop = threading.Event()
    failures = []
    try:
        box = Box(http_port, "")
        for _ in range(150):
            try:
                box.get("/api/v1/setup", auth=False)
                break
            except OSError:
                time.sleep(0.2)
        code = open(os.path.join(work, "data", "setup-code")).read().strip()
        reply = box.post("/api/v1/setup", json.dumps({"password": "soak-password-1", "code": code}))
        cookie = reply.split("set-cookie: ", 1)[1].split(";", 1)[0] if "set-cookie: " in reply else ""
        csrf = json.loads(reply.split("\r\n\r\n", 1)[1])["csrf"]
        reply = box.post("/api/v1/tokens", '{"name":"soak"}', f"Cookie: {cookie}\r\nX-CSRF-Token: {csrf}\r\n")
        box.token = json.loads(reply.split("\r\n\r\n", 1)[1])["token"]
        box.post("/api/v1/recording/start", "{}", f"Authorization: Bearer {box.token}\r\n")
        # The receiver that calls the box's listener uplink.
        procs.append(subprocess.Popen(
            ["srt-live-transmit", "-q", "-a:yes", f"srt://127.0.0.1:{srt_listen}", "file://con"],
            stdout=devnull, stderr=devnull))

        def player_and_ui():
            rungs = ["720p", "480p", "360p"]
            while not stop.is_set():
                try:
                    box.get("/hls/master.m3u8", auth=False)
                    for r in rungs:
                        _, pl = box.get(f"/hls/{r}/index.m3u8", auth=False)
                        segs = [l for l in pl.decode().splitlines() if l and not l.startswith("#")]
                        if segs:
                            box.get(f"/hls/{r}/{segs[-1]}", auth=False)
                    box.get("/api/v1/status")
                    box.get("/api/v1/audio")
                    box.get("/api/v1/program/thumbnail.jpg")
                    for cam in ["cam1", "cam2", "cam3", "cam4"]:
                        box.get(f"/api/v1/inputs/{cam}/thumbnail.jpg")
                except (OSError, IndexError, ValueError):
                    pass
                stop.wait(2)

        t = threading.Thread(target=player_and_ui, daemon=True)
        t.start()
        tick = os.sysconf("SC_CLK_TCK")
        start = time.time()
        end = start + args.minutes * 60
        warm_end = start + args.warmup * 60
        rows, last_cpu, last_t = [], None, None
        warm = {"rss": None, "fds": 0, "threads": 0, "dropped": None}
        csv_path = os.path.join(out_dir, "soak.csv")
        with open(csv_path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["t_s", "rss_mib", "fds", "threads", "cpu_pct", "dropped_frames", "uplinks"])
            while time.time() < end:
                now = time.time()
                rss, fds, threads, cpu = proc_sample(daemon.pid)
                cpu_pct = 0.0 if last_cpu is None else 100.0 * (cpu - last_cpu) / tick / (now - last_t)
                last_cpu, last_t = cpu, now
                try:
                    st = json.loads(box.get("/api/v1/status")[1])
                    dropped = st["program"]["dropped_frames"]
                    uplinks = " ".join(f"{d['name']}={d['state']}" for d in st.get("destinations", []))
                except (OSError, ValueError, KeyError):
                    dropped, uplinks = None, "status unreachable"
                row = [round(now - start), rss, fds, threads, round(cpu_pct, 1), dropped, uplinks]
                w.writerow(row)
                f.flush()
                rows.append(row)
                print(f"{row[0]:>5} s  rss {rss:>4} MiB  fds {fds:>3}  threads {threads:>3}  "
                      f"cpu {cpu_pct:5.1f} %  dropped {dropped}  {uplinks}", flush=True)
                if now < warm_end:
                    warm["fds"] = max(warm["fds"], fds)
                    warm["threads"] = max(warm["threads"], threads)
                elif warm["rss"] is None:
                    warm["rss"], warm["dropped"] = rss, dropped
                    warm["fds"] = max(warm["fds"], fds)
                    warm["threads"] = max(warm["threads"], threads)
                    print(f"warm-up over: rss {rss} MiB, fds ≤ {warm['fds']}, threads ≤ "
                          f"{warm['threads']}, dropped {dropped}", flush=True)
                else:
                    if rss > warm["rss"] * 1.05:
                        failures.append(f"{row[0]} s: rss {rss} MiB > 5 % over {warm['rss']} MiB")
                    if dropped is not None and warm["dropped"] is not None and dropped > warm["dropped"]:
                        failures.append(f"{row[0]} s: {dropped - warm['dropped']} frames dropped")
                    if daemon.poll() is not None:
                        failures.append(f"{row[0]} s: the daemon exited ({daemon.returncode})")
                        break
                time.sleep(max(0.0, 10 - (time.time() - now)))
        after = [r for r in rows if r[0] >= args.warmup * 60]
        # Descriptors and threads come and go with requests and tokio's blocking pool
        # (bounded); growth is the last quarter never coming back down to where the first
        # quarter after the warm-up was.
        q = max(1, len(after) // 4)
        for col, name in [(2, "descriptors"), (3, "threads")]:
            first, last = [r[col] for r in after[:q]], [r[col] for r in after[-q:]]
            if len(after) >= 8 and min(last) > max(first):
                failures.append(
                    f"{after[-1][0]} s: {name} grew: last quarter {min(last)}–{max(last)} "
                    f"over the first quarter's {min(first)}–{max(first)}")
        code, body = box.get("/api/v1/device")
        fleet = json.loads(body)["fleet"] if code == 200 else {}
        if fleet.get("state") != "connected":
            failures.append(f"end: fleet link not connected: {fleet}")
        if after:
            print(json.dumps({
                "fleet": {k: fleet.get(k) for k in ("state", "published", "reconnects", "queued", "dropped")},
                "minutes": args.minutes,
                "rss_mib_first_last_max": [after[0][1], after[-1][1], max(r[1] for r in after)],
                "fds_min_max": [min(r[2] for r in after), max(r[2] for r in after)],
                "threads_min_max": [min(r[3] for r in after), max(r[3] for r in after)],
                "cpu_pct_mean": round(sum(r[4] for r in after) / len(after), 1),
                "dropped_frames_after_warmup": (after[-1][5] or 0) - (warm["dropped"] or 0),
                "csv": csv_path,
            }, indent=1))
        # Each kind of failure once, with its first time.
        seen = set()
        for f_ in failures:
            kind = f_.split(": ", 1)[1].split()[0:2][-1]
            if kind not in seen:
                seen.add(kind)
                print("GROWTH", f_)
        return 1 if failures else 0
    finally:
        stop.set()
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=20)
        except subprocess.TimeoutExpired:
            daemon.kill()
        for p in procs:
            p.terminate()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
