#!/usr/bin/env bash
# Installs every Debian 12 package Tessel's build, tests and reports need. Idempotent:
# silent when everything is already there. Nothing is downloaded at build time.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libsystemc-dev verilator yosys
  libeigen3-dev libyaml-cpp-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libdnnl-dev libopenblas-dev
  libhnswlib-dev libfaiss-dev liburing-dev
  libopenmpi-dev openmpi-bin
  python3-dev pybind11-dev python3-pytest python3-numpy python3-pandas python3-matplotlib
  gnuplot-nox clang-format
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >/dev/null
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
echo "deps.sh: done" >&2
