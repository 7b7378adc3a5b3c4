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
#
# `lean-ffmpeg.sh aarch64` cross-builds the image's ONE ffmpeg (and ffprobe) with Debian's
# arm64 cross gcc, fully static: the recording set above plus what the appliance needs besides
# (JPEG snapshots, clips, the relay's TS/FLV/RTMP, MJPEG/YUYV V4L2 input, h264_v4l2m2m, and
# libx264 from Debian's x264 source for boards without a hardware encoder). Prints its folder.
set -euo pipefail
target="${1:-host}"
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
[ "$target" = host ] || out="$cache/ffmpeg-lean-$target-$upstream"
if [ -x "$out/bin/ffmpeg" ]; then
  if [ "$target" = host ]; then echo "$out/bin/ffmpeg"; else echo "$out"; fi
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

# Debian's source of a package, unpacked once into $work; prints its folder.
debian_source() {
  local pkg=$1 v
  v=$(apt-cache "${apt_opts[@]}" showsrc "$pkg" | awk '/^Version:/ {print $2}' | sort -V | tail -1)
  local dir="$work/$pkg-${v#*:}"
  if [ ! -d "$dir" ]; then
    say "downloading the source of $pkg $v"
    (cd "$work" && apt-get "${apt_opts[@]}" -qq source --download-only "$pkg=$v" >&2)
    (cd "$work" && dpkg-source --no-check -x "${pkg}_${v#*:}.dsc" "$dir" >&2)
  fi
  echo "$dir"
}

common=(--disable-everything --disable-autodetect --disable-doc --disable-debug
  --disable-ffplay --enable-static --disable-shared --enable-small
  --enable-protocol=file,pipe,tcp,udp,rtp
  --enable-parser=h264,hevc,aac,aac_latm,mjpeg
  --enable-bsf=aac_adtstoasc,h264_mp4toannexb,hevc_mp4toannexb,extract_extradata,null
  --enable-indev=v4l2)
case "$target" in
host)
  flags=("${common[@]}" --disable-ffprobe --disable-x86asm
    --enable-demuxer=rtsp,rtp,sdp,concat,mov,mpegts,aac,h264,hevc
    --enable-muxer=segment,mp4,mov,null
    --enable-decoder=h264,hevc,aac,aac_latm,pcm_alaw,pcm_mulaw,mjpeg
    --enable-encoder=aac
    --enable-filter=null,anull,format,aformat,aresample,scale,copy,acopy)
  ;;
aarch64)
  command -v aarch64-linux-gnu-gcc >/dev/null || {
    say "apt-get install gcc-aarch64-linux-gnu"
    apt-get install -y -qq gcc-aarch64-linux-gnu libc6-dev-arm64-cross >&2
  }
  x264="$cache/x264-aarch64"
  if [ ! -f "$x264/lib/libx264.a" ]; then
    xsrc=$(debian_source x264)
    say "cross-building libx264 (static)"
    xb="$work/build-x264-aarch64"
    rm -rf "$xb" && cp -a "$xsrc" "$xb"
    (cd "$xb" && ./configure --prefix="$x264" --host=aarch64-linux-gnu \
      --cross-prefix=aarch64-linux-gnu- --enable-static --disable-cli --disable-opencl \
      --enable-pic --disable-lavf --disable-swscale --disable-ffms --disable-gpac \
      --disable-lsmash >"$xb/configure.log" 2>&1 &&
      make -j"$(nproc)" >"$xb/make.log" 2>&1 && make install >/dev/null) || {
      tail -20 "$xb"/*.log >&2
      exit 1
    }
    rm -rf "$xb"
  fi
  export PKG_CONFIG_LIBDIR="$x264/lib/pkgconfig"
  flags=("${common[@]}" --enable-cross-compile --arch=aarch64 --target-os=linux
    --cross-prefix=aarch64-linux-gnu- --pkg-config=pkg-config
    --enable-gpl --enable-libx264 --enable-ffprobe
    --extra-cflags="-I$x264/include" --extra-ldflags="-L$x264/lib -static" --extra-libs="-lpthread -lm -ldl"
    --enable-protocol=rtmp,tcp,file,pipe,udp,rtp
    --enable-demuxer=rtsp,rtp,sdp,concat,mov,mpegts,matroska,flv,aac,h264,hevc,lavfi,image2
    --enable-muxer=segment,mp4,mov,null,image2,mjpeg,mpegts,flv
    --enable-decoder=h264,hevc,aac,aac_latm,pcm_alaw,pcm_mulaw,mjpeg,rawvideo,mpeg4
    --enable-encoder=aac,mjpeg,libx264,h264_v4l2m2m
    --enable-filter=null,anull,format,aformat,aresample,scale,copy,acopy,fps,testsrc2,sine,select,setpts
    --enable-v4l2-m2m)
  ;;
*) say "unknown target $target (host or aarch64)"; exit 2 ;;
esac

say "configuring and building for $target (a few minutes)"
build="$work/build-$target-$upstream"
rm -rf "$build" && mkdir -p "$build"
cd "$build"
"$src/configure" --prefix="$out" "${flags[@]}" >"$build/configure.log" 2>&1 || {
  tail -20 "$build/configure.log" >&2
  exit 1
}
make -j"$(nproc)" >"$build/make.log" 2>&1 || {
  tail -30 "$build/make.log" >&2
  exit 1
}
make install >/dev/null
if [ "$target" = host ]; then
  strip "$out/bin/ffmpeg"
  rm -rf "$build"
  echo "$out/bin/ffmpeg"
else
  aarch64-linux-gnu-strip "$out/bin/ffmpeg" "$out/bin/ffprobe"
  rm -rf "$build" "$out/share" "$out/include" "$out/lib"
  echo "$out"
fi
