#!/usr/bin/env python3
"""What another host on the LAN does to camvault, for tests/lan.rs (run inside the peer's
network namespace).

  mdns-browse TYPE SECONDS           every instance of TYPE seen (python-zeroconf, as Home
                                     Assistant browses), as JSON with its TXT and addresses
  metrics URL USER PASSWORD          /metrics parsed by prometheus_client: {family: [type, n]}
  hammer HOST PORT N USER PASSWORD   N requests, good, wrong and malformed; JSON of outcomes
  saturated PNG                      share of strongly coloured pixels in a screenshot
"""
import base64
import json
import random
import socket
import sys
import time
import urllib.request


def mdns_browse(service_type, seconds):
    from zeroconf import ServiceBrowser, Zeroconf

    zc = Zeroconf()
    found = {}

    class Listener:
        def add_service(self, zc, type_, name):
            info = zc.get_service_info(type_, name, timeout=3000)
            if info is None:
                return
            found[name] = {
                "name": name,
                "server": info.server,
                "port": info.port,
                "addresses": info.parsed_addresses(),
                "txt": {k.decode(): (v or b"").decode() for k, v in info.properties.items()},
            }

        def update_service(self, zc, type_, name):
            self.add_service(zc, type_, name)

        def remove_service(self, zc, type_, name):
            pass

    ServiceBrowser(zc, service_type, Listener())
    time.sleep(float(seconds))
    zc.close()
    print(json.dumps(list(found.values())))


def get(url, user, password):
    req = urllib.request.Request(url)
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    req.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read().decode()


def metrics(url, user, password):
    from prometheus_client.parser import text_string_to_metric_families

    text = get(url, user, password)
    out = {}
    for fam in text_string_to_metric_families(text):
        out[fam.name] = [fam.type, len(fam.samples), [[s.labels, s.value] for s in fam.samples]]
    print(json.dumps(out))


def hammer(host, port, n, user, password):
    rng = random.Random(17)
    good = base64.b64encode(f"{user}:{password}".encode()).decode()
    wrong = base64.b64encode(f"{user}:{password}x".encode()).decode()
    paths = ["/", "/metrics", "/snapshot/front.jpg", "/snapshot/../../camvault.toml",
             "/snapshot/nope.jpg", "/snapshot/front.png", "/%00", "/" + "a" * 5000, "/metrics?x=1"]
    outcomes = {}
    for i in range(int(n)):
        kind = i % 6
        if kind == 0:
            raw = f"GET {rng.choice(paths)} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {good}\r\nConnection: close\r\n\r\n"
        elif kind == 1:
            raw = f"GET {rng.choice(paths)} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {wrong}\r\nConnection: close\r\n\r\n"
        elif kind == 2:
            raw = f"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        elif kind == 3:
            raw = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 2000))).decode("latin-1")
        elif kind == 4:
            raw = f"{rng.choice(['POST', 'DELETE', 'PUT', 'BREW'])} / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {good}\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
        else:
            raw = "GET / HTTP/1.1\r\n" + "X-Long: " + "b" * rng.randint(10, 100000) + "\r\nAuthorization: Basic !!\r\n\r\n"
        s = socket.create_connection((host, int(port)), timeout=10)
        try:
            s.sendall(raw.encode("latin-1"))
            if kind == 3:
                # Garbage may look like the start of a request: end it, or the server waits.
                s.shutdown(socket.SHUT_WR)
            head = s.recv(64).decode("latin-1", "replace")
        except OSError as e:
            head = f"error {type(e).__name__}"
        finally:
            s.close()
        status = head.split(" ")[1] if head.startswith("HTTP/1.1 ") else (head[:20] or "closed")
        key = f"{kind}:{status}"
        outcomes[key] = outcomes.get(key, 0) + 1
    print(json.dumps(outcomes))


def saturated(png):
    from PIL import Image

    img = Image.open(png).convert("RGB")
    px = list(img.getdata())
    strong = sum(1 for r, g, b in px if max(r, g, b) - min(r, g, b) > 100)
    print(json.dumps({"share": strong / len(px), "size": img.size}))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"mdns-browse": mdns_browse, "metrics": metrics, "hammer": hammer, "saturated": saturated}[cmd](*args)
