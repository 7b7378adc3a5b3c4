#!/usr/bin/env bash
# Builds the lean ffmpeg the image ships for recording (recording.ffmpeg): Debian's own ffmpeg
# source (signed by the archive, Debian's patches applied) configured with only what a
# recording ffmpeg uses when it copies (RTSP/RTP in, the concat demuxer that keeps camera
# passwords off the command line, MP4/MOV for test clips, the segment muxer with fragmented
# MP4 out, the AAC encoder for `audio = "aac"`, V4L2 for cameras that give H.264) and its
# libraries linked in statically.
#
# Why: eight Debian ffmpegs cost 17 MiB PSS each, nearly all of it the private relocated data
# of the ~150 shared libraries they load (x264, x265, dav1d, OpenCL, Vulkan, …). A static
# binary has almost none: the text is shared by every camera's process.
#
# Cameras that must encode video (V4L2 MJPEG/YUYV) still run Debian's ffmpeg, which has the
# encoders. Prints the binary's path. Cached by source version under
# ${CAMVAULT_CACHE:-~/.cache/camvault}.
set -euo pipefail
cache="${CAMVAULT_CACHE:-$HOME/.cache/camvault}"
work="$cache/ffmpeg-src"
mkdir -p "$work/apt/lists/partial" "$work/apt/archives/partial"

say() { echo "lean-ffmpeg: $*" >&2; }

# Debian's source index, through a private apt configuration (the system's is untouched).
cat >"$work/apt/sources.list" <<'EOF'
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main
EOF
apt_opts=(-o "Dir::Etc::SourceList=$work/apt/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache=$work/apt" -o "APT::Sandbox::User=root")

version=$(apt-cache "${apt_opts[@]}" showsrc ffmpeg 2>/dev/null | awk '/^Version:/ {print $2}' | sort -V | tail -1 || true)
if [ -z "$version" ]; then
  say "fetching Debian's source index"
  apt-get "${apt_opts[@]}" -qq update >&2
  version=$(apt-cache "${apt_opts[@]}" showsrc ffmpeg | awk '/^Version:/ {print $2}' | sort -V | tail -1)
fi
upstream=${version#*:}
out="$cache/ffmpeg-lean-$upstream"
if [ -x "$out/bin/ffmpeg" ]; then
  echo "$out/bin/ffmpeg"
  exit 0
fi

for tool in dpkg-source make gcc pkg-config; do
  command -v "$tool" >/dev/null || { say "apt-get install dpkg-dev build-essential pkg-config"; apt-get install -y -qq dpkg-dev build-essential pkg-config >&2; break; }
done

src="$work/ffmpeg-${upstream%-*}"
if [ ! -f "$src/configure" ]; then
  say "downloading the source of ffmpeg $version"
  (cd "$work" && apt-get "${apt_opts[@]}" -qq source --download-only "ffmpeg=$version" >&2)
  rm -rf "$src"
  # apt checked every file against the archive's signed index; the .dsc's own signature is
  # the uploader's, whose key is not in the archive keyring.
  (cd "$work" && dpkg-source --no-check -x "ffmpeg_${version#*:}.dsc" "$src" >&2)
fi

say "configuring and building (a few minutes)"
build="$work/build-$upstream"
rm -rf "$build" && mkdir -p "$build"
cd "$build"
"$src/configure" --prefix="$out" \
  --disable-everything --disable-autodetect --disable-doc --disable-debug \
  --disable-ffplay --disable-ffprobe --enable-static --disable-shared \
  --disable-x86asm --enable-small \
  --enable-protocol=file,pipe,tcp,udp,rtp \
  --enable-demuxer=rtsp,rtp,sdp,concat,mov,mpegts,aac,h264,hevc \
  --enable-muxer=segment,mp4,mov,null \
  --enable-parser=h264,hevc,aac,aac_latm,mjpeg \
  --enable-bsf=aac_adtstoasc,h264_mp4toannexb,hevc_mp4toannexb,extract_extradata,null \
  --enable-decoder=h264,hevc,aac,aac_latm,pcm_alaw,pcm_mulaw,mjpeg \
  --enable-encoder=aac \
  --enable-filter=null,anull,format,aformat,aresample,scale,copy,acopy \
  --enable-indev=v4l2 >"$build/configure.log" 2>&1 || {
  tail -20 "$build/configure.log" >&2
  exit 1
}
make -j"$(nproc)" >"$build/make.log" 2>&1 || {
  tail -30 "$build/make.log" >&2
  exit 1
}
make install >/dev/null
strip "$out/bin/ffmpeg"
rm -rf "$build"
echo "$out/bin/ffmpeg"
