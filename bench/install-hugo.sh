#!/usr/bin/env bash
# Installs Debian's hugo package for the render comparison (bench/render_vs_hugo.py), when missing.
# Kept here rather than in scripts/install-system-deps.sh: only the benchmark needs Hugo.
set -euo pipefail
if command -v hugo >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends hugo || {
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends hugo
}
