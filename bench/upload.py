#!/usr/bin/env python3
"""Uploader benchmark: one 1 GiB file to the same loopback Garage, in one run, with camvault,
boto3 upload_file, `aws s3 cp` and `rclone copyto`. Wall time, CPU seconds, peak RSS of each.

Each tool uploads its own fresh random file, in turn, for --rounds rounds (the order rotates
each round); the medians are reported.

With --https, Garage sits behind nginx as a TLS terminator with a private CA's certificate,
which every tool is told to trust (camvault's `upload.ca_file`, AWS_CA_BUNDLE, rclone's
--ca-cert); the server-side CPU column then counts nginx too.

Usage: bench/upload.py [--mib 1024] [--rounds 5] [--https] [--bin target/release/camvault]
"""
import argparse
import os
import resource
import shutil
import statistics
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

from benchlib import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HZ = os.sysconf("SC_CLK_TCK")
KEY_ID = "GK0123456789abcdef01234567"
SECRET = "c0ffee" * 10 + "c0ff"


def garage(tmp):
    rpc, api, admin = free_port(), free_port(), free_port()
    os.makedirs(tmp, exist_ok=True)
    conf = os.path.join(tmp, "garage.toml")
    with open(conf, "w") as f:
        f.write(f'metadata_dir = "{tmp}/meta"\ndata_dir = "{tmp}/data"\ndb_engine = "sqlite"\nreplication_factor = 1\n'
                f'rpc_bind_addr = "127.0.0.1:{rpc}"\nrpc_public_addr = "127.0.0.1:{rpc}"\nrpc_secret = "{"ab" * 32}"\n'
                f'[s3_api]\ns3_region = "us-east-1"\napi_bind_addr = "127.0.0.1:{api}"\nroot_domain = ".s3.garage.localhost"\n'
                f'[admin]\napi_bind_addr = "127.0.0.1:{admin}"\nadmin_token = "{"ab" * 32}"\n')
    proc = subprocess.Popen(["garage", "-c", conf, "server"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    g = lambda *a: subprocess.run(["garage", "-c", conf, *a], check=True, capture_output=True, text=True).stdout.strip()
    for _ in range(100):
        try:
            node = g("node", "id", "-q").split("@")[0]
            break
        except subprocess.CalledProcessError:
            time.sleep(0.2)
    # The node answers `node id` before its layout manager is ready: retry the assignment.
    for attempt in range(50):
        try:
            g("layout", "assign", "-z", "dc1", "-c", "5G", node)
            break
        except subprocess.CalledProcessError:
            if attempt == 49:
                raise
            time.sleep(0.2)
    g("layout", "apply", "--version", "1")
    g("key", "import", "--yes", "-n", "bench", KEY_ID, SECRET)
    g("bucket", "create", "bench")
    g("bucket", "allow", "--read", "--write", "--owner", "bench", "--key", "bench")
    time.sleep(0.5)
    return proc, f"http://127.0.0.1:{api}"


def tls_terminator(tmp, upstream_port):
    """nginx in front of Garage with a certificate for 127.0.0.1 from a fresh private CA."""
    os.makedirs(f"{tmp}/tmp", exist_ok=True)
    sh = (f"cd {tmp} && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=bench-ca "
          "&& openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1 "
          "&& printf 'subjectAltName = IP:127.0.0.1\\n' > ext.cnf "
          "&& openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext.cnf")
    subprocess.run(["sh", "-c", sh], check=True, capture_output=True)
    port = free_port()
    with open(f"{tmp}/nginx.conf", "w") as f:
        f.write(f"daemon off;\nmaster_process off;\nworker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log warn;\n"
                "events { worker_connections 256; }\n"
                f"http {{ access_log off; client_max_body_size 0; proxy_request_buffering off; proxy_buffering off;\n"
                f"client_body_temp_path {tmp}/tmp; proxy_temp_path {tmp}/tmp; fastcgi_temp_path {tmp}/tmp;\n"
                f"uwsgi_temp_path {tmp}/tmp; scgi_temp_path {tmp}/tmp;\n"
                f"server {{ listen 127.0.0.1:{port} ssl; ssl_certificate {tmp}/server.pem; ssl_certificate_key {tmp}/server.key;\n"
                f"location / {{ proxy_pass http://127.0.0.1:{upstream_port}; proxy_http_version 1.1;\n"
                "proxy_set_header Host $http_host; proxy_set_header Connection \"\"; } } }\n")
    proc = subprocess.Popen(["nginx", "-p", tmp, "-c", f"{tmp}/nginx.conf"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    import socket
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    return proc, f"https://127.0.0.1:{port}", f"{tmp}/ca.pem"


def timed(cmd, env=None):
    """Runs a peer; wall time, CPU seconds and peak RSS of it (and its children), from its own
    wait4 rusage: RUSAGE_CHILDREN's maxrss would be the largest of every child so far."""
    t0 = time.time()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.time() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit(f"{cmd[0]} failed ({p.returncode})")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss * 1024


def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def camvault(binary, endpoint, tmp, src, size, ca=None):
    tmp = tempfile.mkdtemp(dir=tmp)
    data = os.path.join(tmp, "cv")
    # Outside recordings/: the recorder would take a file there for an interrupted segment.
    rel = "queued/bench.bin"
    os.makedirs(os.path.dirname(os.path.join(data, rel)))
    os.link(src, os.path.join(data, rel))
    cfg = os.path.join(tmp, "camvault.toml")
    with open(cfg, "w") as f:
        f.write(f'[device]\nid = "cv-bench"\ndata_dir = "{data}"\n[log]\nlevel = "warn"\n[discovery]\nannounce = false\nauto_record = "off"\n'
                f'[[camera]]\nname = "bench"\nsource = "test:"\nenabled = false\n'
                f'[upload]\ndestination = "s3"\nendpoint = "{endpoint}"\nbucket = "bench"\n'
                f'access_key_id = "{KEY_ID}"\nsecret_access_key = "{SECRET}"\n'
                + (f'ca_file = "{ca}"\n' if ca else ''))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMVAULT_")}
    # The store and the camera row exist after a first start; then the file is queued as
    # the recorder would queue a closed segment.
    p = subprocess.Popen([binary, "--config", cfg, "run"], env=env, stderr=subprocess.DEVNULL)
    while not os.path.exists(os.path.join(data, "camvault.sock")):
        time.sleep(0.05)
    p.send_signal(signal.SIGTERM)
    p.wait()
    db = sqlite3.connect(os.path.join(data, "camvault.db"))
    db.execute("INSERT INTO segment (camera_id, path, start_ms, end_ms, duration_ms, bytes, state) "
               "SELECT id, ?, 1769265000000, 1769265600000, 600000, ?, 'closed' FROM camera WHERE name = 'bench'", (rel, size))
    db.commit()
    t0 = time.time()
    p = subprocess.Popen([binary, "--config", cfg, "run"], env=env, stderr=subprocess.DEVNULL)
    peak = 0
    while True:
        row = db.execute("SELECT state FROM upload_job").fetchone()
        with open(f"/proc/{p.pid}/status") as f:
            peak = max(peak, next(int(l.split()[1]) for l in f if l.startswith("VmHWM")) * 1024)
        if row and row[0] == "done":
            break
        time.sleep(0.05)
    wall = time.time() - t0
    cpu = proc_cpu(p.pid)
    p.send_signal(signal.SIGTERM)
    p.wait()
    return wall, cpu, peak


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/camvault"))
    ap.add_argument("--https", action="store_true")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="cv-upbench-")
    proc = tls = ca = None
    results, server = {}, {}  # name -> one entry per round
    try:
        proc, endpoint = garage(os.path.join(tmp, "garage"))
        if a.https:
            tls, endpoint, ca = tls_terminator(os.path.join(tmp, "tls"), int(endpoint.rsplit(":", 1)[1]))
        size = a.mib << 20
        env = dict(os.environ, AWS_ACCESS_KEY_ID=KEY_ID, AWS_SECRET_ACCESS_KEY=SECRET, AWS_DEFAULT_REGION="us-east-1")
        env.pop("AWS_CA_BUNDLE", None)
        if ca:
            env["AWS_CA_BUNDLE"] = ca
        servers = [proc] + ([tls] if tls else [])

        def run(name, fn):
            """Each tool gets its own random file of the same size: Garage stores blocks by
            content, so a second upload of the same bytes would skip storing (and compressing)
            them and look cheaper. Garage's own CPU is measured too: on 2 shared cores the
            server's share decides the wall time."""
            src = os.path.join(tmp, "file.bin")
            with open(src, "wb") as f:
                for _ in range(a.mib):
                    f.write(os.urandom(1 << 20))
            before = sum(proc_cpu(p.pid) for p in servers)
            results.setdefault(name, []).append(fn(src))
            server.setdefault(name, []).append(sum(proc_cpu(p.pid) for p in servers) - before)
            os.unlink(src)

        boto = ("import boto3,sys; from botocore.config import Config; "
                f"boto3.client('s3', endpoint_url='{endpoint}', config=Config(s3={{'addressing_style': 'path'}}))"
                f".upload_file(sys.argv[1], 'bench', 'boto3.bin')")
        tools = [("camvault", lambda src: camvault(a.bin, endpoint, tmp, src, size, ca)),
                 ("boto3 upload_file", lambda src: timed([sys.executable, "-c", boto, src], env))]
        if shutil.which("aws"):
            tools.append(("aws s3 cp", lambda src: timed(["aws", "--endpoint-url", endpoint, "s3", "cp", src, "s3://bench/aws.bin"], env)))
        if shutil.which("rclone"):
            renv = dict(env, RCLONE_CONFIG_G_TYPE="s3", RCLONE_CONFIG_G_PROVIDER="Other", RCLONE_CONFIG_G_ENDPOINT=endpoint,
                        RCLONE_CONFIG_G_ACCESS_KEY_ID=KEY_ID, RCLONE_CONFIG_G_SECRET_ACCESS_KEY=SECRET,
                        RCLONE_CONFIG_G_FORCE_PATH_STYLE="true", RCLONE_CONFIG_G_REGION="us-east-1")
            ca_arg = ["--ca-cert", ca] if ca else []
            # rclone's AWS SDK refuses to start with AWS_CA_BUNDLE set ("unsupported
            # transport"): it gets the CA through --ca-cert only.
            renv.pop("AWS_CA_BUNDLE", None)
            tools.append(("rclone copyto", lambda src: timed(["rclone", "copyto", *ca_arg, src, "g:bench/rclone.bin"], renv)))
        # A first upload warms Garage up (its tables and workers start on first use); unmeasured.
        warm = os.path.join(tmp, "warm.bin")
        with open(warm, "wb") as f:
            f.write(os.urandom(64 << 20))
        timed([sys.executable, "-c", boto, warm], env)
        os.unlink(warm)
        for r in range(a.rounds):
            for name, fn in tools[r % len(tools):] + tools[:r % len(tools)]:
                run(name, fn)
    finally:
        for p in (proc, tls):
            if p:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    median = {n: tuple(statistics.median(r[i] for r in runs) for i in range(3)) for n, runs in results.items()}
    over = "https (nginx TLS in front)" if a.https else "http"
    print(f"upload benchmark: one {a.mib} MiB file to loopback Garage over {over}, median of {a.rounds} rounds")
    print(f"  {'tool':<20} {'wall s':>7} {'CPU s':>7} {'peak RSS':>10} {'server CPU s':>13}")
    for name, (wall, cpu, rss) in median.items():
        print(f"  {name:<20} {wall:7.2f} {cpu:7.2f} {rss / 1048576:8.1f} MiB {statistics.median(server[name]):13.2f}")
    print("  each round (wall s / CPU s):")
    for name, runs in results.items():
        print(f"    {name:<20} " + "  ".join(f"{w:.2f}/{c:.2f}" for w, c, _ in runs))
    results = median
    cv = results["camvault"]
    fastest = min(w for n, (w, _, _) in results.items() if n != "camvault")
    boto_cpu = results["boto3 upload_file"][1]
    print(f"  camvault wall / fastest peer: {cv[0] / fastest:.2f}; CPU / boto3: {cv[1] / boto_cpu:.2f}")


if __name__ == "__main__":
    main()
