#!/usr/bin/env bash
# Installs a real Home Assistant Core into a cached venv, for tests/home_assistant.rs.
# Python 3.11 (Debian 12) allows HA Core up to 2024.3.3. HA's own constraints file keeps pip from
# backtracking for minutes; josepy<2 because newer josepy breaks every HTTP request in that release.
set -euo pipefail
HA_VERSION=2024.3.3
VENV="${CAMVAULT_HA_VENV:-$HOME/.cache/camvault/ha-$HA_VERSION}"
say() { printf 'home-assistant: %s\n' "$*"; }

if [ -x "$VENV/bin/hass" ] && [ -e "$VENV/.complete" ]; then
  exit 0
fi
say "installing Home Assistant Core $HA_VERSION into $VENV (about 3 minutes, once)"
rm -rf "$VENV"
python3 -m venv "$VENV" 2>/dev/null || {
  apt-get install -y -qq python3-venv >/dev/null
  python3 -m venv "$VENV"
}
"$VENV/bin/pip" install --quiet --upgrade pip wheel
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$VENV/bin/pip" download --quiet --no-deps -d "$tmp" "homeassistant==$HA_VERSION"
(cd "$tmp" && python3 -m zipfile -e homeassistant-*.whl wheel)
"$VENV/bin/pip" install --quiet "homeassistant==$HA_VERSION" "josepy<2" \
  -c "$tmp/wheel/homeassistant/package_constraints.txt"
# The integrations the test loads install their requirements at first start; install them
# now instead, so no test waits on pip.
reqs=$("$VENV/bin/python" - <<'PY'
import json, pathlib, homeassistant.components as c
root = pathlib.Path(c.__file__).parent
todo, seen, reqs = ["mqtt", "camera", "onboarding", "api", "event", "update"], set(), set()
while todo:
    d = todo.pop()
    if d in seen or not (root / d / "manifest.json").exists():
        continue
    seen.add(d)
    m = json.loads((root / d / "manifest.json").read_text())
    reqs.update(m.get("requirements", []))
    todo += m.get("dependencies", []) + m.get("after_dependencies", [])
print(" ".join(sorted(reqs)))
PY
)
if [ -n "$reqs" ]; then
  say "integration requirements: $reqs"
  # shellcheck disable=SC2086
  "$VENV/bin/pip" install --quiet $reqs -c "$tmp/wheel/homeassistant/package_constraints.txt"
fi
touch "$VENV/.complete"
say "ready: $VENV/bin/hass"
