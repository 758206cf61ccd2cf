#!/usr/bin/env bash
# Installs the Debian packages the browser tests need: Chromium (driven by Playwright through
# /usr/bin/chromium, since browser downloads are not possible) and CJK fonts so Chinese text
# renders in screenshots. Does nothing when they are already present. (The npm tools of the
# browser tests, axe-core and html-validate, are installed by `npm ci` in the Makefile.)
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -d /usr/share/fonts/opentype/noto ] && ls /usr/share/fonts/opentype/noto | grep -qi cjk || need+=(fonts-noto-cjk)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
echo "installing system packages: ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
