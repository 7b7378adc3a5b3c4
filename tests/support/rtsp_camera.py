#!/usr/bin/python3
"""A GStreamer RTSP server that behaves like an IP camera (H.264 + AAC), for tests and benches.

usage: rtsp_camera.py PORT [--path /stream] [--user U --password P] [--size 640x360]
                      [--fps 25] [--kbps 1000] [--pattern smpte] [--address 127.0.0.1]
(--pattern snow makes every frame, so every packet, unique: tests match packets by hash.)
Prints "ready" on stdout once it listens on 127.0.0.1:PORT (or --address). Run with Debian's /usr/bin/python3.
"""
import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--path", default="/stream")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--kbps", type=int, default=1000)
    ap.add_argument("--pattern", default="smpte")
    ap.add_argument("--address", default="127.0.0.1")
    a = ap.parse_args()
    w, h = a.size.split("x")

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(a.address)
    server.set_service(str(a.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f"( videotestsrc is-live=true pattern={a.pattern} ! video/x-raw,width={w},height={h},framerate={a.fps}/1 "
        f"! x264enc tune=zerolatency speed-preset=ultrafast bitrate={a.kbps} key-int-max={2 * a.fps} "
        f"! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 "
        f"audiotestsrc is-live=true ! audio/x-raw,rate=48000,channels=1 ! audioconvert "
        f"! voaacenc ! aacparse ! rtpmp4gpay name=pay1 pt=97 )"
    )
    factory.set_shared(True)
    if a.user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(a.user, a.password), token)
        server.set_auth(auth)
        perms = GstRtspServer.RTSPPermissions()
        perms.add_role_from_structure(Gst.Structure.from_string("user, media.factory.access=true, media.factory.construct=true")[0])
        factory.set_permissions(perms)
    server.get_mount_points().add_factory(a.path, factory)
    if server.attach(None) == 0:
        print("cannot listen", file=sys.stderr)
        sys.exit(1)
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
