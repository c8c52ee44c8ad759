#!/usr/bin/env bash
# The package as a user gets it: `npm pack`, then in a new empty project `npm install ./ct-edge-*.tgz`
# under npm 10 and npm 11, `npx ct-edge doctor`, the README's quick-start script (read from the packed
# README) on a short video, and
# a strict TypeScript 5 compile of a consumer file (skipLibCheck off). Once more with
# --ignore-scripts: the prebuilt addon must load where install scripts do not run.
# Needs the npm registry. onnxruntime-node's optional download is skipped (ONNXRUNTIME_NODE_INSTALL=skip).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export ONNXRUNTIME_NODE_INSTALL=skip npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
cd "$root"
tgz="$work/$(npm pack --silent --pack-destination "$work" | tail -1)"
echo "package: $(basename "$tgz") ($(du -h "$tgz" | cut -f1)), prebuilds: $(tar -tzf "$tgz" | grep -c '^package/prebuilds/.*\.node$')"

check() { # <name> <npm version> [npm install flags...]
  local name="$1" npmv="$2"; shift 2
  local dir="$work/$name"
  mkdir -p "$dir" && cd "$dir"
  echo '{ "name": "consumer", "private": true, "type": "module" }' > package.json
  npx -y "npm@$npmv" install "$tgz" "$@" >install.log 2>&1 || { cat install.log; return 1; }
  echo "[$name] npm $(npx -y "npm@$npmv" --version): installed ($(grep -c 'install-scripts' install.log || true) allowScripts warnings)"
  npx ct-edge doctor | sed "s/^/[$name] doctor: /"
  local ffmpeg
  ffmpeg="$(node -p "require('@ffmpeg-installer/ffmpeg').path" 2>/dev/null || command -v ffmpeg)"
  "$ffmpeg" -v error -f lavfi -i testsrc=size=320x240:rate=10 -t 1 -pix_fmt yuv420p clip.mp4
  cp "$root/tools/package-check/consumer.ts" "$root/tools/package-check/tsconfig.json" .
  # the first js block under "## Quick start" in the installed README
  awk '/^## Quick start/{q=1} q&&/^```js/{c=1;next} c&&/^```/{exit} c' node_modules/ct-edge/README.md >track.mjs
  test -s track.mjs || { echo "no quick-start script in the README"; return 1; }
  node track.mjs clip.mp4 100,80,60,50 >track.txt
  echo "[$name] README script tracked $(wc -l <track.txt) frames; last: $(tail -1 track.txt)"
  npx -y "npm@$npmv" install --no-save typescript@5 @types/node@20 >/dev/null 2>&1
  npx tsc -p tsconfig.json && echo "[$name] strict consumer compiles against the packed typings"
}
check npm10 10
check npm11 11
check no-scripts 11 --ignore-scripts
test ! -e "$work/no-scripts/node_modules/ct-edge/build" && echo "[no-scripts] no build/: the prebuilt addon served"
