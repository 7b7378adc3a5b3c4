#!/usr/bin/env bash
# Lints meta-camvault with oelint-adv (bitbake cannot run here). Fails on errors; rules that
# do not fit images, bundles or a layer without its own MACHINE are suppressed, with why:
#  homepageping: makes HTTP requests;  mandatoryvar.SRC_URI: images and bundles have none;
#  noncoreoverride: the rauc-conf bbappend must apply on every machine;  mispell.unknown:
#  meta-rauc's bundle variables are not in oelint's core list.
set -euo pipefail
command -v oelint-adv >/dev/null || python3 -m pip install --quiet oelint-adv || python3 -m pip install --quiet --break-system-packages oelint-adv
cd "$(dirname "$0")/meta-camvault"
out=$(oelint-adv --release scarthgap --quiet \
  --suppress oelint.vars.homepageping --suppress oelint.var.mandatoryvar.SRC_URI \
  --suppress oelint.vars.noncoreoverride --suppress oelint.vars.mispell.unknown \
  $(find . -name '*.bb' -o -name '*.bbappend' | sort) 2>&1 || true)
echo "$out" | grep -v ':info:' || true
! echo "$out" | grep -q ':error:'
