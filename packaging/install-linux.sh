#!/usr/bin/env bash
# Install the built app for every user of a lab machine (run as root from dist/nokenviz/):
#   sudo bash install-linux.sh [PREFIX]      (PREFIX defaults to /opt/nokenviz)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
PREFIX=${1:-/opt/nokenviz}
mkdir -p "$PREFIX"
cp -a "$HERE/." "$PREFIX/"
ln -sf "$PREFIX/nokenviz" /usr/local/bin/nokenviz
install -Dm644 "$HERE/nokenviz.desktop" /usr/share/applications/nokenviz.desktop
install -Dm644 "$HERE/nokenviz.png" /usr/share/icons/hicolor/256x256/apps/nokenviz.png
echo "installed in $PREFIX; start it from the menu or with: nokenviz"
