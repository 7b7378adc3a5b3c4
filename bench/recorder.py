#!/usr/bin/python3
"""Recorder benchmark: 8 RTSP cameras for 60 s, camvault vs. the same 8 recordings made by
8 bare ffmpeg processes (the peer: "ffmpeg alone", what the seed's Python recorder ran).

Reports camvault's own RSS, PSS and CPU (children excluded), each ffmpeg child's PSS and CPU,
and the appliance total (camvault + children, by PSS) against the bare-ffmpeg total. camvault
runs twice: recording with Debian's ffmpeg, then with the lean static ffmpeg the image ships
(--lean, built by scripts/lean-ffmpeg.sh).
Usage: bench/recorder.py [--cameras 8] [--seconds 60] [--bin target/release/camvault] [--lean PATH]
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from benchlib import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HZ = os.sysconf("SC_CLK_TCK")


def mem(pid):
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss * 1024, pss * 1024


def cpu_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime, children excluded
    except OSError:
        return 0


def children(pid):
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(p))
            except OSError:
                pass
    return out


def measure(pids_fn, seconds):
    """Samples memory every 2 s; CPU as ticks over the whole window. Returns {pid: (rss, pss, cpu%)}."""
    pids = pids_fn()
    t0 = time.time()
    c0 = {p: cpu_ticks(p) for p in pids}
    peak = {p: (0, 0) for p in pids}
    while time.time() - t0 < seconds:
        for p in pids:
            r, s = mem(p)
            peak[p] = (max(peak[p][0], r), max(peak[p][1], s))
        time.sleep(2)
    dt = time.time() - t0
    return {p: (peak[p][0], peak[p][1], 100.0 * (cpu_ticks(p) - c0[p]) / HZ / dt) for p in pids}


def mib(b):
    return f"{b / 1048576:.1f} MiB"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cameras", type=int, default=8)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/camvault"))
    ap.add_argument("--lean", help="the lean ffmpeg for recording.ffmpeg")
    a = ap.parse_args()

    port = free_port()
    cam = subprocess.Popen(["/usr/bin/python3", os.path.join(ROOT, "tests/support/rtsp_camera.py"), str(port)],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert cam.stdout.readline().strip() == "ready"
    url = f"rtsp://127.0.0.1:{port}/stream"
    tmp = tempfile.mkdtemp(prefix="cv-bench-")
    try:
        runs = {}
        for label, ffmpeg in [("Debian ffmpeg", "ffmpeg")] + ([("lean ffmpeg", a.lean)] if a.lean else []):
            data = os.path.join(tmp, f"cv-{len(runs)}")
            cfg = os.path.join(tmp, "camvault.toml")
            with open(cfg, "w") as f:
                f.write(f'[device]\nid = "cv-bench"\ndata_dir = "{data}"\n[log]\nlevel = "warn"\n[discovery]\nannounce = false\nauto_record = "off"\n'
                        f'[recording]\nffmpeg = "{ffmpeg}"\n')
                for i in range(a.cameras):
                    f.write(f'[[camera]]\nname = "c{i}"\nsource = "{url}"\n')
            env = {k: v for k, v in os.environ.items() if not k.startswith("CAMVAULT_")}
            cv = subprocess.Popen([a.bin, "--config", cfg, "run"], env=env, stderr=subprocess.DEVNULL)
            time.sleep(10)
            res = measure(lambda: [cv.pid] + children(cv.pid), a.seconds)
            cv.send_signal(signal.SIGTERM)
            cv.wait(timeout=30)
            own = res.pop(cv.pid)
            runs[label] = (own, list(res.values()))

        # the peer: one bare ffmpeg per camera, same segmenting, no supervisor
        peers = []
        for i in range(a.cameras):
            out = os.path.join(tmp, "ff", f"c{i}")
            os.makedirs(out, exist_ok=True)
            peers.append(subprocess.Popen(
                ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url,
                 "-map", "0:v:0", "-map", "0:a:0?", "-c", "copy", "-f", "segment", "-segment_time", "10",
                 "-segment_atclocktime", "1", "-reset_timestamps", "1", "-strftime", "1",
                 os.path.join(out, "c_%Y-%m-%d_%H-%M-%S.mp4")], stderr=subprocess.DEVNULL))
        time.sleep(10)
        pres = measure(lambda: [p.pid for p in peers], a.seconds)
        for p in peers:
            p.send_signal(signal.SIGINT)
        for p in peers:
            p.wait(timeout=30)
    finally:
        cam.kill()
        shutil.rmtree(tmp, ignore_errors=True)

    peer_pss = sum(p[1] for p in pres.values())
    print(f"recorder benchmark: {a.cameras} RTSP cameras (640x360, 25 fps, 1 Mbit/s, H.264 + AAC), {a.seconds} s")
    for label, (own, kids) in runs.items():
        kid_pss = sum(k[1] for k in kids)
        total = own[1] + kid_pss
        print(f"  camvault, recording with {label}:")
        print(f"    camvault itself       RSS {mib(own[0])}  PSS {mib(own[1])}  CPU {own[2]:.2f} % of a core")
        print(f"    camvault's ffmpegs    {len(kids)} children, PSS {mib(kid_pss)} in all "
              f"({mib(kid_pss / max(len(kids), 1))} each), CPU {sum(k[2] for k in kids) / max(len(kids), 1):.2f} % each")
        print(f"    camvault appliance    PSS {mib(total)}; / ffmpeg alone {total / peer_pss:.2f}; "
              f"/ the seed's 176 MB {total / 176e6:.2f} (target 0.50)")
    print(f"  peer: Debian ffmpeg alone  {len(pres)} processes, PSS {mib(peer_pss)} in all, "
          f"CPU {sum(p[2] for p in pres.values()) / max(len(pres), 1):.2f} % each")


if __name__ == "__main__":
    sys.exit(main())
