#!/usr/bin/env python3
"""Fourcast's engine against ffmpeg on the standard workload, plus how cost grows, fan-out
and live probes. Prints tables and writes every figure to target/bench/results.json.

Standard workload: four raw I420 1080p30 clips of different moving pictures (ffmpeg's
testsrc2, testsrc, gradients and life), one per input -> 2x2 grid at 1080p30 -> H.264
ladder 1080p 5000k / 720p 2800k / 480p 1400k / 360p 800k, x264 veryfast + zerolatency, GOP
60, no scene-cut -> HLS, 2 s segments. Fourcast runs it with `fourcastd render` (its
engine, offline: as fast as it can); ffmpeg with scale + xstack + split in one
filter_complex, four libx264 outputs and its HLS muxer. CPU (user + sys), wall and peak
RSS come from wait4() on each process. PSNR of every rung is measured against the same
reference composite (each tile and each rung scaled with Lanczos from the uncompressed
clips), so both are judged by the same picture. The encoder floor is the engine's x264enc
settings encoding the rungs pre-scaled from that reference, and nothing else: Fourcast's
CPU over it is what mixing, scaling, muxing and HLS cost. The older workload (one clip
read by all four inputs) is still measured, as `standard.one_clip`.

Usage: tests/bench/bench.py [--frames N] [--repeat N] [--only standard,scaling,fanout,probes]
                            [--fourcastd PATH] [--out DIR]
"""

import argparse
import json
import threading
import urllib.request
import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "target" / "bench"
WORK = OUT / "work"
FOURCASTD = ROOT / "target" / "release" / "fourcastd"
STANDARD_CONFIG = ROOT / "tests" / "bench" / "standard.toml"
W, H, FPS = 1920, 1080, 30
# name, width, height, kbit/s: the standard ladder (also in standard.toml).
LADDER = [
    ("1080p", 1920, 1080, 5000),
    ("720p", 1280, 720, 2800),
    ("480p", 854, 480, 1400),
    ("360p", 640, 360, 800),
]
X264 = ["-preset", "veryfast", "-tune", "zerolatency", "-g", "60", "-keyint_min", "60",
        "-sc_threshold", "0"]


def run_measured(cmd, cwd=None, stdout=subprocess.DEVNULL):
    """Runs cmd to completion; returns (wall s, cpu s user+sys, peak RSS MiB, stdout)."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=stdout, stderr=subprocess.PIPE, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(map(str, cmd))}\n{err[-3000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0, out


# The standard workload's four cameras: four different moving pictures, one file each.
SOURCES = [
    ("testsrc2", f"testsrc2=size={W}x{H}:rate={FPS}"),
    ("testsrc", f"testsrc=size={W}x{H}:rate={FPS}"),
    ("gradients", f"gradients=size={W}x{H}:rate={FPS}:speed=0.03:seed=7"),
    ("life", f"life=size={W}x{H}:rate={FPS}:mold=10:ratio=0.3:seed=7:"
             "life_color=#f0c040:death_color=#203060"),
]


def make_clip(frames, source=SOURCES[0]):
    """One raw I420 1080p30 clip of `source` (made once and kept for later runs)."""
    name, lavfi = source
    clip = WORK / f"{name}-{frames}.yuv"
    if clip.exists() and clip.stat().st_size == frames * W * H * 3 // 2:
        return clip
    WORK.mkdir(parents=True, exist_ok=True)
    for old in WORK.glob(f"{name}-*.yuv"):
        old.unlink()
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", lavfi,
                    "-frames:v", str(frames), "-pix_fmt", "yuv420p", "-f", "rawvideo",
                    str(clip)], check=True)
    return clip


def make_clips(frames):
    return [make_clip(frames, source) for source in SOURCES]


def grid(n, width=W, height=H):
    """The program grid, as the engine lays it out (firmware/engine/src/layout.rs)."""
    cols = math.ceil(math.sqrt(n))
    rows = -(-n // cols)
    cell_w, cell_h = width // cols, height // rows
    w, h = cell_w, cell_w * height // width
    if h > cell_h:
        h, w = cell_h, cell_h * width // height
    even = lambda v: v & ~1
    w, h = even(w), even(h)
    tiles = []
    for i in range(n):
        row, col = divmod(i, cols)
        in_row = n - row * cols if row == rows - 1 else cols
        offset = (cols - in_row) * cell_w // 2
        tiles.append((even(offset + col * cell_w + (cell_w - w) // 2),
                      even(row * cell_h + (cell_h - h) // 2), w, h))
    return tiles


def mix_graph(n, flags=None, one_read=False):
    """filter_complex text that mixes inputs 0..n-1 into [program]; with one_read, input 0
    scaled once and split into every tile (all tiles the same size)."""
    tiles = grid(n)
    opt = f":flags={flags}" if flags else ""
    if n == 1:
        return "[0:v]null[program]"
    if one_read:
        _, _, w, h = tiles[0]
        parts = [f"[0:v]scale={w}:{h}{opt},split={n}" + "".join(f"[t{i}]" for i in range(n))]
    else:
        parts = [f"[{i}:v]scale={w}:{h}{opt}[t{i}]" for i, (_, _, w, h) in enumerate(tiles)]
    stack = "".join(f"[t{i}]" for i in range(n))
    bottom = max(y + h for _, y, _, h in tiles)
    top = min(y for _, y, _, _ in tiles)
    # xstack's canvas ends at the lowest tile; pad it to the program size if it is short.
    layout = "|".join(f"{x}_{y - top}" for x, y, _, _ in tiles)
    pad = f",pad={W}:{H}:0:{top}" if (bottom - top) < H else ""
    parts.append(f"{stack}xstack=inputs={n}:layout={layout}:fill=black{pad}[program]")
    return ";".join(parts)


def ffmpeg_cmd(clips, ladder, out, one_read=False):
    n = len(clips)
    raw = lambda clip: ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{W}x{H}", "-r",
                        str(FPS), "-i", str(clip)]
    graph = [mix_graph(n, one_read=one_read)]
    labels = [f"[o{i}]" for i in range(len(ladder))]
    graph.append(f"[program]split={len(ladder)}{''.join(labels)}" if len(ladder) > 1
                 else "[program]null[o0]")
    maps = []
    for i, (_, w, h, _) in enumerate(ladder):
        if (w, h) == (W, H):
            maps.append(f"[o{i}]")
        else:
            graph.append(f"[o{i}]scale={w}:{h}[v{i}]")
            maps.append(f"[v{i}]")
    inputs = raw(clips[0]) if one_read else [a for c in clips for a in raw(c)]
    cmd = ["ffmpeg", "-v", "error", "-y"] + inputs + ["-filter_complex", ";".join(graph)]
    for m in maps:
        cmd += ["-map", m]
    cmd += ["-c:v", "libx264"] + X264
    for i, (_, _, _, kbps) in enumerate(ladder):
        # The same rate control as the engine's x264enc (CBR: VBV max = bitrate, 600 ms).
        cmd += [f"-b:v:{i}", f"{kbps}k", f"-maxrate:v:{i}", f"{kbps}k",
                f"-bufsize:v:{i}", f"{kbps * 6 // 10}k"]
    streams = " ".join(f"v:{i},name:{name}" for i, (name, _, _, _) in enumerate(ladder))
    cmd += ["-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod",
            "-var_stream_map", streams, "-master_pl_name", "master.m3u8",
            "-hls_segment_filename", str(out / "%v" / "segment%05d.ts"),
            str(out / "%v" / "index.m3u8")]
    return cmd


def fourcast_config(ladder, path):
    text = STANDARD_CONFIG.read_text()
    head, _, _ = text.partition("[[ladder.rungs]]")
    tail = text[text.index("[outputs.hls]"):]
    rungs = "".join(
        f'[[ladder.rungs]]\nname = "{n}"\nwidth = {w}\nheight = {h}\nbitrate_kbps = {k}\n\n'
        for n, w, h, k in ladder)
    path.write_text(head + rungs + tail)
    return path


def fourcast_cmd(clips, config, out):
    return [str(FOURCASTD), "render", "--config", str(config), "--out", str(out),
            "--raw-size", f"{W}x{H}"] + [str(c) for c in clips]


def reference_graph(width, height, first_input=1):
    """filter_complex text for the reference composite: inputs first_input.. first_input+3
    (the four clips) into the standard grid with Lanczos, scaled to width x height, [ref]."""
    ref = mix_graph(4, flags="lanczos").replace("[program]", "[grid]")
    for i in (3, 2, 1, 0):
        ref = ref.replace(f"[{i}:v]", f"[{i + first_input}:v]")
    return f"{ref};[grid]scale={width}:{height}:flags=lanczos"


def psnr(rendition, clips, width, height):
    """Average PSNR (dB, Y/U/V weighted as ffmpeg does) of an HLS rendition against the
    Lanczos reference composite of the standard grid scaled to the rendition's size."""
    graph = (f"{reference_graph(width, height)},setpts=N/{FPS}/TB[ref];"
             f"[0:v]setpts=N/{FPS}/TB[enc];[enc][ref]psnr")
    inputs = [a for c in clips for a in ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s",
                                          f"{W}x{H}", "-r", str(FPS), "-i", str(c)]]
    out = subprocess.run(["ffmpeg", "-v", "info", "-i", str(rendition)] + inputs +
                         ["-lavfi", graph, "-f", "null", "-"],
                         capture_output=True, text=True, check=True).stderr
    m = re.search(r"PSNR y:\S+ u:\S+ v:\S+ average:(\S+)", out)
    if not m:
        sys.exit(f"no PSNR for {rendition}:\n{out[-2000:]}")
    return round(float(m.group(1)), 3)


def floor_rungs(clips, frames, ladder):
    """The program composite pre-scaled to every rung, raw (made once, not timed): what the
    encoder floor encodes."""
    out = []
    for name, w, h, _ in ladder:
        path = WORK / f"floor-{name}-{frames}.yuv"
        if not (path.exists() and path.stat().st_size == frames * w * h * 3 // 2):
            inputs = [a for c in clips for a in ["-f", "rawvideo", "-pix_fmt", "yuv420p",
                                                  "-s", f"{W}x{H}", "-r", str(FPS), "-i",
                                                  str(c)]]
            subprocess.run(["ffmpeg", "-v", "error", "-y"] + inputs +
                           ["-filter_complex", reference_graph(w, h, 0) + "[out]",
                            "-map", "[out]", "-pix_fmt", "yuv420p", "-f", "rawvideo",
                            str(path)], check=True)
        out.append(path)
    return out


def floor_cmd(rungs, ladder):
    """The encoder floor: the engine's own x264enc settings (firmware/engine/src/ladder/
    encoder.rs: zerolatency, the standard preset, GOP 60, no scene-cut, one thread per rung
    when the rungs fill the cores) encoding the pre-scaled rungs, and nothing else."""
    threads = 1 if len(ladder) >= (os.cpu_count() or 1) else 0
    cmd = ["gst-launch-1.0", "-q"]
    for path, (_, w, h, kbps) in zip(rungs, ladder):
        cmd += ["filesrc", f"location={path}", "blocksize=" + str(w * h * 3 // 2), "!",
                "rawvideoparse", f"width={w}", f"height={h}", "format=i420",
                f"framerate={FPS}/1", "!", "x264enc", f"bitrate={kbps}", "tune=zerolatency",
                "speed-preset=veryfast", "key-int-max=60", "option-string=scenecut=0",
                f"threads={threads}", "!", "fakesink"]
    return cmd


def frames_in(playlist):
    out = subprocess.run(["ffprobe", "-v", "error", "-count_packets", "-select_streams", "v",
                          "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0",
                          str(playlist)], capture_output=True, text=True).stdout
    counts = [int(v) for v in out.split() if v.strip().isdigit()]
    return counts[0] if counts else 0


def run_both(clips, frames, ladder, tag, with_psnr=False, repeat=1,
             engines=("ffmpeg", "fourcast")):
    """Runs ffmpeg and Fourcast on the same input `repeat` times, alternating (so both see
    the same machine), and keeps the median of each figure. `ffmpeg_one_read` is ffmpeg
    reading the clip once and scaling it once for every tile (what Fourcast does)."""
    runs = {e: [] for e in engines}
    dirs = {}
    for _ in range(repeat):
        for engine in engines:
            out = WORK / f"{tag}-{engine}"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            if engine == "floor":
                cmd = floor_cmd(floor_rungs(clips, frames, ladder), ladder)
            elif engine.startswith("ffmpeg"):
                cmd = ffmpeg_cmd(clips, ladder, out, one_read=engine == "ffmpeg_one_read")
            else:
                cmd = fourcast_cmd(clips, fourcast_config(ladder, WORK / f"{tag}.toml"), out)
            wall, cpu, rss, _ = run_measured(cmd)
            runs[engine].append((wall, cpu, rss, cmd))
            if engine != "floor":
                dirs[engine] = {name: out / name for name, *_ in ladder}
    results = {}
    media = frames / FPS
    for engine, rs in runs.items():
        med = lambda i: sorted(r[i] for r in rs)[len(rs) // 2]
        wall, cpu, rss = med(0), med(1), med(2)
        r = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "rss_mb": round(rss, 1),
             "speed": round(media / wall, 2), "runs": len(rs),
             "cpu_s_each": [round(x[1], 2) for x in rs], "command": " ".join(rs[0][3])}
        for name, d in dirs.get(engine, {}).items():
            got = frames_in(d / "index.m3u8")
            if got != frames:
                sys.exit(f"{engine} {tag}: rung {name} has {got} frames, expected {frames}")
        if with_psnr and engine in ("ffmpeg", "fourcast"):
            r["psnr_db"] = {name: psnr(d / "index.m3u8", clips, w, h)
                            for (name, w, h, _), d in zip(ladder, dirs[engine].values())}
        results[engine] = r
    f, g = results["fourcast"], results["ffmpeg"]
    results["cpu_ratio"] = round(f["cpu_s"] / g["cpu_s"], 3)
    # Each alternating pair ran on the same machine state: its ratio shows the spread.
    results["cpu_ratio_pairs"] = [round(a / b, 3) for a, b in
                                  zip(f["cpu_s_each"], g["cpu_s_each"])]
    results["wall_ratio"] = round(f["wall_s"] / g["wall_s"], 3)
    results["rss_ratio"] = round(f["rss_mb"] / g["rss_mb"], 3)
    if "floor" in results:
        results["cpu_ratio_to_floor"] = round(f["cpu_s"] / results["floor"]["cpu_s"], 3)
        results["cpu_ratio_to_floor_pairs"] = [
            round(a / b, 3) for a, b in zip(f["cpu_s_each"], results["floor"]["cpu_s_each"])]
    if "ffmpeg_one_read" in results:
        results["cpu_ratio_vs_one_read"] = round(
            f["cpu_s"] / results["ffmpeg_one_read"]["cpu_s"], 3)
    if with_psnr:
        results["psnr_delta_db"] = {k: round(f["psnr_db"][k] - g["psnr_db"][k], 3)
                                    for k in f["psnr_db"]}
    return results


def standard(frames, repeat):
    """The standard workload on four distinct clips, ffmpeg / Fourcast / the encoder floor
    alternating `repeat` times; then the older one-clip workload, kept for comparison."""
    clips = make_clips(frames)
    r = run_both(clips, frames, LADDER, "standard", with_psnr=True, repeat=repeat,
                 engines=("ffmpeg", "fourcast", "floor"))
    r["sources"] = [name for name, _ in SOURCES]
    r["frames"] = frames
    r["media_s"] = frames / FPS
    print(f"\nStandard workload: 4 distinct 1080p30 clips ({', '.join(r['sources'])}) -> 2x2 "
          f"grid -> 4-rung x264 ladder -> HLS ({frames} frames, {frames / FPS:.0f} s of media; "
          f"median of {repeat} alternating runs each)")
    print(f"{'':10} {'wall s':>8} {'CPU s':>8} {'speed':>7} {'RSS MiB':>8}   PSNR dB "
          + " ".join(f"{n:>7}" for n, *_ in LADDER))
    for engine in ("fourcast", "ffmpeg"):
        e = r[engine]
        print(f"{engine:10} {e['wall_s']:8.2f} {e['cpu_s']:8.2f} {e['speed']:6.2f}x "
              f"{e['rss_mb']:8.1f}           " + " ".join(f"{e['psnr_db'][n]:7.2f}"
                                                       for n, *_ in LADDER))
    print(f"{'ratio':10} {r['wall_ratio']:8.3f} {r['cpu_ratio']:8.3f} {'':7} "
          f"{r['rss_ratio']:8.3f}   delta   " + " ".join(f"{r['psnr_delta_db'][n]:+7.2f}"
                                                         for n, *_ in LADDER))
    pairs = r["cpu_ratio_pairs"]
    print(f"CPU ratio of each alternating pair: {', '.join(f'{x:.3f}' for x in pairs)} "
          f"(median {sorted(pairs)[len(pairs) // 2]:.3f})")
    r["guard"] = {"cpu_ratio_max": 0.75, "psnr_delta_db_min": -0.1,
                  "pass": r["cpu_ratio"] <= 0.75
                  and all(d >= -0.1 for d in r["psnr_delta_db"].values())}
    print(f"Guard (CPU ratio <= 0.75, every rung's PSNR within 0.1 dB of ffmpeg's): "
          f"{'pass' if r['guard']['pass'] else 'FAIL'}")
    fl = r["floor"]
    print(f"Encoder floor (x264enc alone on the pre-scaled rungs): {fl['cpu_s']:.2f} CPU s; "
          f"Fourcast / floor = {r['cpu_ratio_to_floor']:.3f} (pairs: "
          f"{', '.join(f'{x:.3f}' for x in r['cpu_ratio_to_floor_pairs'])}); mixing, scaling, "
          f"muxing and HLS cost {r['fourcast']['cpu_s'] - fl['cpu_s']:.2f} CPU s above it")
    one = run_both([make_clip(frames)] * 4, frames, LADDER, "one-clip",
                   repeat=max(1, repeat // 2),
                   engines=("ffmpeg", "fourcast", "ffmpeg_one_read"))
    r["one_clip"] = {k: one[k] for k in ("cpu_ratio", "cpu_ratio_pairs",
                                         "cpu_ratio_vs_one_read")}
    r["one_clip"]["cpu_s"] = {e: one[e]["cpu_s"] for e in ("fourcast", "ffmpeg",
                                                           "ffmpeg_one_read")}
    print(f"Older one-clip workload (one clip read by all four inputs): CPU ratio "
          f"{one['cpu_ratio']:.3f}; against ffmpeg reading and scaling the clip once "
          f"{one['cpu_ratio_vs_one_read']:.3f}")
    return r


def scaling(frames):
    # Four distinct clips, as four cameras would be: nothing is shared between inputs.
    cams = make_clips(frames)
    rows = {"sources": [name for name, _ in SOURCES], "inputs": [], "rungs": []}
    print(f"\nHow cost grows ({frames} frames, one run each, distinct sources): "
          "CPU s fourcast / ffmpeg (ratio)")
    for n in (1, 2, 3, 4):
        r = run_both(cams[:n], frames, LADDER, f"inputs{n}")
        rows["inputs"].append({"inputs": n, "rungs": 4, **slim(r)})
        print(f"  {n} input(s), 4 rungs: {r['fourcast']['cpu_s']:6.2f} / "
              f"{r['ffmpeg']['cpu_s']:6.2f} ({r['cpu_ratio']:.3f})")
    for k in (1, 2, 3, 4):
        r = run_both(cams, frames, LADDER[:k], f"rungs{k}")
        rows["rungs"].append({"inputs": 4, "rungs": k, **slim(r)})
        print(f"  4 inputs, {k} rung(s): {r['fourcast']['cpu_s']:6.2f} / "
              f"{r['ffmpeg']['cpu_s']:6.2f} ({r['cpu_ratio']:.3f})")
    return rows


def slim(r):
    keep = ("wall_s", "cpu_s", "rss_mb", "speed")
    return {"fourcast": {k: r["fourcast"][k] for k in keep},
            "ffmpeg": {k: r["ffmpeg"][k] for k in keep},
            "cpu_ratio": r["cpu_ratio"]}


def fanout():
    out = subprocess.run(["bash", str(ROOT / "tests/bench/uplink-fanout.sh")],
                         capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        m = re.search(r"destinations: (\d+) \(live: (\d+)\) \| cpu: ([\d.]+)%", line)
        if m:
            rows.append({"rtmp_destinations": int(m.group(1)), "live": int(m.group(2)),
                         "cpu_percent_of_one_core": float(m.group(3))})
    print("\nFan-out (live box, 720p30 3-rung ladder, RTMP to a local nginx-rtmp):")
    for r in rows:
        print(f"  {r['rtmp_destinations']} destination(s) ({r['live']} live): "
              f"{r['cpu_percent_of_one_core']:.1f} % of one core")
    return rows


def probes():
    result = {}
    # Process start -> first segment listed in the 720p playlist, five starts.
    import socket
    times, ll_parts, ll_segments = [], [], []
    for i in range(5):
        data = WORK / f"probe-data{i}"
        shutil.rmtree(data, ignore_errors=True)
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        started = time.monotonic()
        proc = subprocess.Popen([str(FOURCASTD), "run", "--data-dir", str(data), "--listen",
                                 f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        # Low-latency HLS: the first part and the first whole segment, by blocking requests
        # (each is answered the moment it exists).
        ll = {}

        def ask_ll(what, query):
            url = f"http://127.0.0.1:{port}/hls/ll/720p/index.m3u8?{query}"
            while time.monotonic() - started < 30:
                try:
                    with urllib.request.urlopen(url, timeout=10) as r:
                        if r.status == 200:
                            ll[what] = time.monotonic() - started
                            return
                except OSError:
                    time.sleep(0.02)

        waiters = [threading.Thread(target=ask_ll, args=a)
                   for a in (("part", "_HLS_msn=0&_HLS_part=0"), ("segment", "_HLS_msn=0"))]
        for w in waiters:
            w.start()
        playlist = data / "hls" / "720p" / "index.m3u8"
        while time.monotonic() - started < 30:
            if playlist.exists() and "#EXTINF" in playlist.read_text(errors="replace"):
                times.append(time.monotonic() - started)
                break
            time.sleep(0.02)
        for w in waiters:
            w.join()
        if "part" in ll:
            ll_parts.append(ll["part"])
        if "segment" in ll:
            ll_segments.append(ll["segment"])
        proc.terminate()
        proc.wait()
        shutil.rmtree(data, ignore_errors=True)
    def spread(values):
        values = sorted(values)
        return {"runs": len(values), "median": round(values[len(values) // 2], 2),
                "min": round(values[0], 2), "max": round(values[-1], 2)} if values else None
    result["start_to_first_segment_s"] = spread(times)
    result["start_to_first_ll_part_s"] = spread(ll_parts)
    result["start_to_first_ll_segment_s"] = spread(ll_segments)
    result["hls_js_live_latency"] = players()
    # Glass-to-glass over SRT on loopback (see tests/src/bin/fourcast-g2g.rs for the method).
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "fourcast-e2e", "--bin",
                    "fourcast-g2g"], cwd=ROOT, check=True)
    # Two receivers: GStreamer (hands a frame over once decoded) and the ffmpeg command line.
    for receiver, key in (("gst", "glass_to_glass_srt"), ("ffmpeg", "glass_to_glass_srt_ffmpeg")):
        subprocess.run([str(ROOT / "target/release/fourcast-g2g"), "--seconds", "20",
                        "--receiver", receiver], cwd=ROOT, capture_output=True, check=True)
        result[key] = json.loads((ROOT / "target/bench" / f"g2g-{receiver}.json").read_text())
    # Layout command -> first changed program frame (see tests/bench/switch-latency.sh).
    out = subprocess.run(["bash", str(ROOT / "tests/bench/switch-latency.sh"), "30"],
                         capture_output=True, text=True, check=True).stdout
    m = re.search(r"(\d+) takes \| median ([\d.]+) ms \| p95 ([\d.]+) ms \| max ([\d.]+) ms"
                  r" \| API round trip median ([\d.]+) ms", out)
    switch_line = out.strip().splitlines()[-1] if out.strip() else "no output"
    result["layout_command_to_changed_frame_ms"] = None if not m else {
        "takes": int(m.group(1)), "median": float(m.group(2)), "p95": float(m.group(3)),
        "max": float(m.group(4)), "api_round_trip_median": float(m.group(5))}
    print("\nLive probes (virtual board):")
    s = result["start_to_first_segment_s"]
    print(f"  process start -> first HLS segment: median {s['median']} s "
          f"(min {s['min']}, max {s['max']}, {s['runs']} starts)")
    for key, name in (("start_to_first_ll_part_s", "first low-latency part"),
                      ("start_to_first_ll_segment_s", "first low-latency segment")):
        v = result[key]
        if v:
            print(f"  process start -> {name}: median {v['median']} s "
                  f"(min {v['min']}, max {v['max']}, {v['runs']} starts)")
    for variant, r in result["hls_js_live_latency"].items():
        print(f"  hls.js in chromium, {variant}: live latency median {r.get('latency_median_s')} s, "
              f"p95 {r.get('latency_p95_s')} s, {r.get('stalls')} stalls in {r.get('played_s')} s")
    for key in ("glass_to_glass_srt", "glass_to_glass_srt_ffmpeg"):
        g = result[key]
        print(f"  glass-to-glass over SRT ({g['rung']}, SRT latency {g['srt_latency_ms']} ms, "
              f"{g['receiver']} receiver): median {g['median_ms']} ms, p95 {g['p95_ms']} ms "
              f"({g['frames']} frames)")
    print(f"  {switch_line}")
    return result


def players(seconds=60):
    """hls.js (web-ui/tests/player.mjs) in chromium against the default box, each variant
    with the web UI's own tuning: its measured live latency (median, p95) and stalls."""
    import socket
    out = {}
    web_ui = ROOT / "web-ui"
    for variant, playlist, low in (("low-latency", "/hls/ll/master.m3u8", "1"),
                                   ("ts", "/hls/master.m3u8", "0")):
        data = WORK / f"player-{variant}"
        shutil.rmtree(data, ignore_errors=True)
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        proc = subprocess.Popen([str(FOURCASTD), "run", "--data-dir", str(data), "--listen",
                                 f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(6)
        env = dict(os.environ, BASE_URL=f"http://127.0.0.1:{port}", PLAYLIST=playlist,
                   LOW_LATENCY=low, SECONDS=str(seconds))
        run = subprocess.run(["node", "tests/player.mjs"], cwd=web_ui, env=env,
                             capture_output=True, text=True)
        proc.terminate()
        proc.wait()
        shutil.rmtree(data, ignore_errors=True)
        try:
            out[variant] = json.loads(run.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            out[variant] = {"error": (run.stderr or run.stdout)[-500:]}
    return out


def main():
    global FOURCASTD, OUT, WORK
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=600)
    ap.add_argument("--repeat", type=int, default=5,
                    help="runs of each engine on the standard workload (median kept)")
    ap.add_argument("--only", default="standard,scaling,fanout,probes")
    ap.add_argument("--fourcastd", type=Path, default=FOURCASTD, help="daemon binary")
    ap.add_argument("--out", type=Path, default=OUT, help="where results.json goes")
    args = ap.parse_args()
    FOURCASTD, OUT = args.fourcastd.resolve(), args.out.resolve()
    WORK = OUT / "work"
    parts = set(args.only.split(","))
    for tool in ("ffmpeg", "ffprobe"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: run `make bench` (it installs it)")
    if not FOURCASTD.exists():
        sys.exit(f"{FOURCASTD} is missing: run `make bench` (it builds it)")
    OUT.mkdir(parents=True, exist_ok=True)
    results = {"machine": {"cpus": os.cpu_count(),
                           "model": cpu_model(),
                           "ffmpeg": tool_version(["ffmpeg", "-version"]),
                           "gstreamer": tool_version(["gst-launch-1.0", "--version"], 1)}}
    if "standard" in parts:
        results["standard"] = standard(args.frames, args.repeat)
    if "scaling" in parts:
        results["scaling"] = scaling(args.frames)
    if "fanout" in parts:
        results["fanout"] = fanout()
    if "probes" in parts:
        results["probes"] = probes()
    path = OUT / "results.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {path}")


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def tool_version(cmd, line=0):
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()[line]
    except (OSError, IndexError):
        return "unknown"


if __name__ == "__main__":
    main()
