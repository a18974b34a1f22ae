#!/usr/bin/env python3
"""The attacks of the hardening issue, against any fourcastd binary, with figures.

    python3 tests/bench/attacks.py [--daemon target/release/fourcastd] [--nofile 1024]

Starts the daemon on a temporary data dir (loopback only), sets the admin password (with
the setup code when the daemon makes one), then:

1. half-open: 1100 connections from 127.0.0.2, each a request line and one header, then
   nothing. Measures how long the API takes to answer 127.0.0.1 meanwhile, the daemon's
   descriptors, whether HLS segments keep coming, and how many of the sockets the daemon
   closed within 15 s.
2. logins, one address: 200 wrong passwords at once from 127.0.0.1; counts the guesses the
   daemon checked (answered "wrong password").
3. logins, many addresses: 60 wrong passwords at once from 127.0.0.10-69; peak resident
   memory (VmHWM) before and after, and resident memory 3 s later.

The e2e tests (tests/tests/hardening.rs) assert the same things; this prints the figures
for an old binary and a new one side by side.
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time

PORT = 18123


def read_all(s):
    """Everything the server sends until it closes the connection."""
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
    return out


def send(body, path="/api/v1/login", source="127.0.0.1", timeout=30):
    s = socket.socket()
    s.settimeout(timeout)
    try:
        s.bind((source, 0))
        s.connect(("127.0.0.1", PORT))
        b = body.encode()
        s.sendall(
            f"POST {path} HTTP/1.1\r\nHost: box\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(b)}\r\nConnection: close\r\n\r\n".encode() + b
        )
        return read_all(s).decode(errors="replace")
    except OSError:
        return ""
    finally:
        s.close()


def get(path):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: box\r\nConnection: close\r\n\r\n".encode())
    try:
        return read_all(s).decode(errors="replace")
    finally:
        s.close()


def mem(pid):
    t = open(f"/proc/{pid}/status").read()
    hwm = int(re.search(r"VmHWM:\s+(\d+)", t).group(1)) // 1024
    rss = int(re.search(r"VmRSS:\s+(\d+)", t).group(1)) // 1024
    return hwm, rss


def newest_segment():
    text = get("/hls/720p/index.m3u8")
    seq = re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", text)
    return (int(seq.group(1)) if seq else 0) + text.count("#EXTINF")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--daemon", default="target/release/fourcastd")
    ap.add_argument("--nofile", type=int, default=1024,
                    help="the daemon's descriptor limit (systemd's default soft limit: 1024)")
    args = ap.parse_args()
    data = tempfile.mkdtemp(prefix="fourcast-attacks-")
    log = open(os.path.join(data, "daemon.log"), "w")
    daemon = subprocess.Popen(
        ["prlimit", f"--nofile={args.nofile}:{args.nofile}", args.daemon, "run", "--data-dir", os.path.join(data, "data"), "--listen",
         f"127.0.0.1:{PORT}"],
        stdout=subprocess.DEVNULL, stderr=log,
    )
    try:
        for _ in range(100):
            try:
                get("/api/v1/setup")
                break
            except OSError:
                time.sleep(0.2)
        code_file = os.path.join(data, "data", "setup-code")
        setup = {"password": "the-admin-password"}
        if os.path.exists(code_file):
            setup["code"] = open(code_file).read().strip()
        print("setup:", send(json.dumps(setup), "/api/v1/setup").split("\r\n")[0])
        for _ in range(150):
            if "EXTINF" in get("/hls/720p/index.m3u8"):
                break
            time.sleep(0.2)
        time.sleep(4)
        pid = daemon.pid
        report = {"daemon": args.daemon}

        # 1. Half-open connections.
        before = newest_segment()
        held = []
        refused_at_connect = 0
        for _ in range(1100):
            s = socket.socket()
            try:
                s.bind(("127.0.0.2", 0))
                s.connect(("127.0.0.1", PORT))
                s.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: box\r\n")
                held.append(s)
            except OSError:
                refused_at_connect += 1
                s.close()
        opened = time.time()
        t = time.time()
        try:
            answer = get("/api/v1/setup").split("\r\n")[0]
        except OSError as e:
            answer = f"no answer ({e})"
        report["half_open_api_answer"] = answer
        report["half_open_api_ms"] = round((time.time() - t) * 1000)
        report["half_open_descriptors"] = len(os.listdir(f"/proc/{pid}/fd"))
        time.sleep(6)
        try:
            report["half_open_segments_in_6s"] = newest_segment() - before
        except OSError as e:
            report["half_open_segments_in_6s"] = f"playlist unreachable ({e})"
        time.sleep(max(0.0, 15 - (time.time() - opened)))
        closed = 0
        for s in held:
            s.setblocking(False)
            try:
                if s.recv(1) == b"":
                    closed += 1
            except BlockingIOError:
                pass
            except OSError:
                closed += 1
            s.close()
        report["half_open_closed_by_box_within_15s"] = f"{closed}/{len(held)}"

        # 2. Parallel guesses from one address.
        replies = [None] * 200

        def guess(i, source="127.0.0.1"):
            replies[i] = send('{"password":"wrong-guess-0001"}', source=source)

        ts = [threading.Thread(target=guess, args=(i,)) for i in range(200)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        report["one_address_200_guesses_checked"] = sum("wrong password" in r for r in replies)

        # 3. Parallel guesses from many addresses.
        hwm0, rss0 = mem(pid)
        replies = [None] * 60
        ts = [
            threading.Thread(target=guess, args=(i, f"127.0.0.{10 + i}")) for i in range(60)
        ]
        t = time.time()
        [t_.start() for t_ in ts]
        [t_.join() for t_ in ts]
        report["sixty_addresses_seconds"] = round(time.time() - t, 1)
        report["sixty_addresses_checked"] = sum("wrong password" in r for r in replies)
        report["sixty_addresses_busy_503"] = sum(r.startswith("HTTP/1.1 503") for r in replies)
        time.sleep(3)
        hwm1, rss1 = mem(pid)
        report["memory_MiB_peak_before_after"] = [hwm0, hwm1]
        report["memory_MiB_resident_before_after_3s"] = [rss0, rss1]
        print(json.dumps(report, indent=1))
    finally:
        daemon.terminate()
        daemon.wait(timeout=20)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
