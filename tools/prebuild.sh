#!/usr/bin/env bash
# Prebuilt CPU addons for the npm package (run by `npm pack` through prepack): prebuilds/<platform>-<arch>/ct_edge.node.
# N-API is ABI-stable, so one binary per platform serves every Node version >= 20. The host's
# always; linux-arm64 (Jetson and other ARM boards) too when the cross compiler is installed
# (Debian/Ubuntu: apt-get install g++-aarch64-linux-gnu). Installs without a matching prebuild
# compile from source (node-gyp-build).
set -euo pipefail
cd "$(dirname "$0")/.."
host="$(node -p 'process.platform + "-" + process.arch')"
rm -rf prebuilds
build() { # <platform-arch> [node-gyp args...]
  local target="$1"; shift
  npx node-gyp rebuild "$@" >/dev/null
  mkdir -p "prebuilds/$target"
  cp build/Release/ct_edge.node "prebuilds/$target/ct_edge.node"
  echo "prebuild: prebuilds/$target/ct_edge.node"
}
if [[ "$host" == linux-x64 ]] && command -v aarch64-linux-gnu-g++ >/dev/null; then
  CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ build linux-arm64 --arch=arm64
elif [[ "$host" == linux-x64 ]]; then
  echo "prebuild: no linux-arm64 binary (apt-get install g++-aarch64-linux-gnu to cross-compile it); arm64 installs compile from source" >&2
fi
build "$host" # last, so that build/Release holds the host's addon again
