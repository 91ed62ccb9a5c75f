#!/usr/bin/env bash
# Sets tripletjs up on a fresh machine: the Debian libraries of its fast path (OpenBLAS, oneDNN),
# then the npm packages, whose install builds the native kernels against them.
# Without the libraries everything still runs, on the wasm kernels (about ten times slower).
set -euo pipefail
cd "$(dirname "$0")"
libraries=(libopenblas-dev libdnnl-dev)
missing=()
if command -v dpkg >/dev/null; then
  for package in "${libraries[@]}"; do dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package"); done
fi
if [ ${#missing[@]} -gt 0 ]; then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  echo "setup: installing ${missing[*]} (Debian packages of the native kernels)"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
elif ! command -v dpkg >/dev/null; then
  echo "setup: not a Debian system: install OpenBLAS (and oneDNN) with your package manager for the native kernels; without them the wasm kernels run" >&2
fi
npm ci --no-audit --no-fund
