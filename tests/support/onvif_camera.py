#!/usr/bin/env python3
"""A fake ONVIF camera for tests/lan.rs: announced by the `wsdiscovery` library (Hello, and
ProbeMatches to Probes), with a minimal SOAP responder for the calls camvault makes. Its
clock is off by --clock-offset seconds, and it checks WS-UsernameToken digests against that
clock the way real cameras do, so a client that signs with its own time is refused.

usage: onvif_camera.py ADDRESS HTTP_PORT STREAM_URI USER PASSWORD [--clock-offset S]
Prints "ready" once published; logs each call (operation, accepted or not) on stdout.
"""
import argparse
import base64
import datetime
import hashlib
import re
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from wsdiscovery import QName, Scope
from wsdiscovery.publishing import ThreadedWSPublishing

URN = "urn:uuid:6c1a3b9e-5d4f-4c2b-9a7e-0123456789ab"
NVT = QName("http://www.onvif.org/ver10/network/wsdl", "NetworkVideoTransmitter")


def envelope(body):
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:tr2="http://www.onvif.org/ver20/media/wsdl" '
        'xmlns:tt="http://www.onvif.org/ver10/schema">'
        f"<env:Body>{body}</env:Body></env:Envelope>"
    ).encode()


def fault(text):
    return envelope(
        "<env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>ter:NotAuthorized</env:Value>"
        f"</env:Subcode></env:Code><env:Reason><env:Text xml:lang=\"en\">{text}</env:Text></env:Reason></env:Fault>"
    )


def tag(body, name):
    m = re.search(r"<(?:\w+:)?%s\b[^>]*>([^<]*)</(?:\w+:)?%s>" % (name, name), body)
    return m.group(1) if m else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("address")
    ap.add_argument("port", type=int)
    ap.add_argument("stream_uri")
    ap.add_argument("user")
    ap.add_argument("password")
    ap.add_argument("--clock-offset", type=float, default=0.0)
    a = ap.parse_args()

    def camera_now():
        return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=a.clock_offset)

    def authorised(body):
        user, digest, nonce, created = (tag(body, n) for n in ("Username", "Password", "Nonce", "Created"))
        if None in (user, digest, nonce, created) or user != a.user:
            return False, "no or wrong user"
        want = base64.b64encode(
            hashlib.sha1(base64.b64decode(nonce) + created.encode() + a.password.encode()).digest()
        ).decode()
        if digest != want:
            return False, "wrong digest"
        when = datetime.datetime.fromisoformat(created.replace("Z", "+00:00"))
        if abs((when - camera_now()).total_seconds()) > 60:
            return False, "stale timestamp"
        return True, "ok"

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, code, data):
            self.send_response(code)
            self.send_header("Content-Type", "application/soap+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
            op = re.search(r"<s:Body><(?:\w+:)?(\w+)", body)
            op = op.group(1) if op else "?"
            if op == "GetSystemDateAndTime":
                t = camera_now()
                print(f"call {op} open", flush=True)
                return self.reply(200, envelope(
                    "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>Manual</tt:DateTimeType>"
                    "<tt:UTCDateTime><tt:Time>"
                    f"<tt:Hour>{t.hour}</tt:Hour><tt:Minute>{t.minute}</tt:Minute><tt:Second>{t.second}</tt:Second>"
                    "</tt:Time><tt:Date>"
                    f"<tt:Year>{t.year}</tt:Year><tt:Month>{t.month}</tt:Month><tt:Day>{t.day}</tt:Day>"
                    "</tt:Date></tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"))
            ok, why = authorised(body)
            print(f"call {op} {why}", flush=True)
            if not ok:
                return self.reply(400, fault("Sender not Authorized"))
            base = f"http://{a.address}:{a.port}"
            if op == "GetDeviceInformation":
                return self.reply(200, envelope(
                    "<tds:GetDeviceInformationResponse><tds:Manufacturer>Testcam</tds:Manufacturer>"
                    "<tds:Model>TC-100</tds:Model><tds:FirmwareVersion>1.0</tds:FirmwareVersion>"
                    "<tds:SerialNumber>0001</tds:SerialNumber><tds:HardwareId>1</tds:HardwareId>"
                    "</tds:GetDeviceInformationResponse>"))
            if op == "GetServices":
                return self.reply(200, envelope(
                    "<tds:GetServicesResponse>"
                    f"<tds:Service><tds:Namespace>http://www.onvif.org/ver10/device/wsdl</tds:Namespace><tds:XAddr>{base}/onvif/device_service</tds:XAddr></tds:Service>"
                    f"<tds:Service><tds:Namespace>http://www.onvif.org/ver20/media/wsdl</tds:Namespace><tds:XAddr>{base}/onvif/media2_service</tds:XAddr></tds:Service>"
                    "</tds:GetServicesResponse>"))
            if op == "GetProfiles" and self.path == "/onvif/media2_service":
                return self.reply(200, envelope(
                    "<tr2:GetProfilesResponse><tr2:Profiles token=\"main\" fixed=\"true\"><tt:Name>MainStream</tt:Name></tr2:Profiles>"
                    "</tr2:GetProfilesResponse>"))
            if op == "GetStreamUri" and self.path == "/onvif/media2_service":
                return self.reply(200, envelope(
                    f"<tr2:GetStreamUriResponse><tr2:Uri>{a.stream_uri}</tr2:Uri></tr2:GetStreamUriResponse>"))
            return self.reply(400, fault("Action not supported"))

    server = ThreadingHTTPServer((a.address, a.port), Handler)
    wsd = ThreadedWSPublishing(uuid_=URN)
    wsd.start()
    wsd.publishService(
        types=[NVT],
        scopes=[Scope("onvif://www.onvif.org/name/Testcam%20Front"),
                Scope("onvif://www.onvif.org/hardware/TC-100"),
                Scope("onvif://www.onvif.org/MAC/02:00:00:aa:bb:cc")],
        xAddrs=[f"http://{a.address}:{a.port}/onvif/device_service"],
    )
    print("ready", flush=True)
    try:
        server.serve_forever()
    finally:
        wsd.stop()


if __name__ == "__main__":
    main()
