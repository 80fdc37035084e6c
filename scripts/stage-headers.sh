#!/usr/bin/env bash
# Copies the header-only dependencies (nlohmann/json, CLI11) into .deps/include so a machine
# without their Debian packages (the GPU machine) can configure Tessel. Run it here, then
# carry .deps to the device run.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$root/.deps/include"
cp -r /usr/include/nlohmann "$root/.deps/include/"
cp -r /usr/include/CLI "$root/.deps/include/"
echo "staged headers in $root/.deps/include"
