#!/usr/bin/python3
"""Relay benchmark: the same 20 H.264 + AAC clips (4 s each) streamed to one nginx-rtmp,
(a) by camvault's relay (files dropped into its inbox; one long-lived ffmpeg fed MPEG-TS)
and (b) the way seed 003 does it: ffprobe, then one `ffmpeg -re -i FILE -c copy -f flv URL`,
per file.

Reports, for each: wall time, CPU seconds (the process and all its children, from
getrusage), CPU as % of one core while streaming, and the publish sessions nginx's
exec_publish hook counted. Copy only, no transcoding, in both.
Usage: bench/relay.py [--files 20] [--seconds 4] [--bin target/release/camvault]
"""
import argparse
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from benchlib import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class Nginx:
    def __init__(self, d):
        self.dir = d
        self.port = free_port()
        os.makedirs(f"{d}/rec", exist_ok=True)
        os.makedirs(f"{d}/logs", exist_ok=True)
        hook = f"{d}/hook.sh"
        with open(hook, "w") as f:
            f.write(f'#!/bin/sh\necho "$1 $2" >> {d}/hooks.txt\n')
        os.chmod(hook, 0o755)
        with open(f"{d}/nginx.conf", "w") as f:
            f.write(
                "load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;\n"
                f"daemon off;\nuser root;\nworker_processes 1;\npid {d}/nginx.pid;\n"
                f"error_log {d}/logs/error.log warn;\nevents {{ worker_connections 64; }}\n"
                f"rtmp {{ server {{ listen 127.0.0.1:{self.port}; application live {{ live on;\n"
                f"  exec_publish {hook} publish $name; exec_publish_done {hook} done $name; }} }} }}\n"
            )
        self.proc = subprocess.Popen(["nginx", "-p", d, "-c", f"{d}/nginx.conf"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        sys.exit("nginx did not start")

    def publishes(self):
        try:
            with open(f"{self.dir}/hooks.txt") as f:
                return sum(1 for l in f if l.startswith("publish"))
        except OSError:
            return 0

    def reset(self):
        try:
            os.remove(f"{self.dir}/hooks.txt")
        except OSError:
            pass

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def make_clips(d, n, secs):
    os.makedirs(d, exist_ok=True)
    out = []
    for i in range(n):
        p = f"{d}/cam1_20260122_10{i // 60:02d}{i % 60:02d}.mp4"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
             f"testsrc2=size=640x360:rate=25:duration={secs}", "-f", "lavfi", "-i",
             f"sine=frequency={300 + 20 * i}:sample_rate=48000:duration={secs}",
             "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-b:v", "1M",
             "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-shortest", p],
            check=True)
        out.append(p)
    return out


def wait_sessions_done(nginx, want, timeout=15):
    end = time.time() + timeout
    while time.time() < end:
        with open(f"{nginx.dir}/hooks.txt") as f:
            if sum(1 for l in f if l.startswith("done")) >= want:
                return
        time.sleep(0.2)


def run_seed(nginx, clips, url):
    """Seed 003: validate each file with ffprobe, then one ffmpeg per file, -re, copy, flv."""
    nginx.reset()
    cpu0, t0 = children_cpu(), time.time()
    for c in clips:
        subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                        "-of", "csv=p=0", c], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["ffmpeg", "-v", "error", "-re", "-i", c, "-c", "copy", "-f", "flv", url],
                       check=True)
    wall = time.time() - t0
    cpu = children_cpu() - cpu0
    wait_sessions_done(nginx, len(clips))
    return wall, cpu, nginx.publishes()


def run_camvault(binary, nginx, clips, url, tmp):
    nginx.reset()
    data = f"{tmp}/cv"
    inbox = f"{data}/inbox"
    os.makedirs(inbox, exist_ok=True)
    # Hold-back rule: a newer file stays behind, so all clips are eligible; old mtimes
    # satisfy min_file_age (the FTP path needs neither).
    for c in clips:
        shutil.copy(c, inbox)
    marker = f"{inbox}/cam1_20260122_115959.mp4"
    shutil.copy(clips[0], marker)
    old = time.time() - 600
    for name in os.listdir(inbox):
        os.utime(f"{inbox}/{name}", (old, old))
    cfg = f"{tmp}/camvault.toml"
    with open(cfg, "w") as f:
        f.write(f'[device]\nid = "bench"\ndata_dir = "{data}"\n[discovery]\nannounce = false\nauto_record = "off"\n\n'
                f'[relay]\nenabled = true\nrtmp_url = "{url}"\nscan_interval_seconds = 1\n'
                f"max_lag_seconds = 0\n[log]\nlevel = \"warn\"\n")
    cpu0, t0 = children_cpu(), time.time()
    p = subprocess.Popen([binary, "--config", cfg, "run"], stderr=subprocess.DEVNULL)
    want = {os.path.basename(marker)}
    while set(os.listdir(inbox)) - {"_failed"} != want:
        time.sleep(0.2)
        if p.poll() is not None:
            sys.exit("camvault exited")
    wall = time.time() - t0
    p.send_signal(signal.SIGTERM)
    p.wait()
    cpu = children_cpu() - cpu0
    wait_sessions_done(nginx, 1)
    return wall, cpu, nginx.publishes()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=20)
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--bin", default=f"{ROOT}/target/release/camvault")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="cv-relay-bench-")
    try:
        nginx = Nginx(f"{tmp}/nginx")
        url = f"rtmp://127.0.0.1:{nginx.port}/live/bench"
        clips = make_clips(f"{tmp}/clips", a.files, a.seconds)
        media = a.files * a.seconds
        rows = [("seed 003 (ffmpeg per file)",) + run_seed(nginx, clips, url),
                ("camvault relay",) + run_camvault(a.bin, nginx, clips, url, tmp)]
        print(f"relay: {a.files} clips x {a.seconds} s = {media} s of media, copy only")
        print(f"{'':30} {'wall s':>8} {'CPU s':>8} {'CPU %':>7} {'sessions':>9}")
        for name, wall, cpu, sessions in rows:
            print(f"{name:30} {wall:8.1f} {cpu:8.2f} {100 * cpu / wall:7.2f} {sessions:9d}")
        (_, sw, sc, ss), (_, cw, cc, cs) = rows
        print(f"ratio camvault/seed: CPU {cc / sc:.2f}x, sessions {cs}/{ss}")
        nginx.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
