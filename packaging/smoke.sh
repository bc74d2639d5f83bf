#!/usr/bin/env bash
# Smoke test of the built app (dist/nokenviz): with an empty home folder, no display and no
# network, it prepares the default model, draws its window to a PNG and renders two of the
# example scenes shipped inside it.
set -euo pipefail
cd "$(dirname "$0")/.."
APP="$PWD/dist/nokenviz/nokenviz"
HOME_DIR=$(mktemp -d)
OUT=$(mktemp -d)
trap 'rm -rf "$HOME_DIR" "$OUT"' EXIT
run() { env -i HOME="$HOME_DIR" PATH=/usr/bin:/bin QT_QPA_PLATFORM=offscreen "$APP" "$@"; }
run info | grep -q "SmolLM2-135M-Instruct"
run gui --screenshot "$OUT/shot.png" --exit-after-load
EXAMPLES="$PWD/dist/nokenviz/_internal/nokenviz/resources/examples"
run render "$EXAMPLES/guiding_tokens.json" --out "$OUT/guiding.pdf"
run render "$EXAMPLES/regions_by_script.json" --out "$OUT/regions.png"  # scikit-learn's k-means
head -c 8 "$OUT/shot.png" | grep -q PNG
head -c 5 "$OUT/guiding.pdf" | grep -q "%PDF"
head -c 8 "$OUT/regions.png" | grep -q PNG
echo "smoke test passed: $(du -sh dist/nokenviz | cut -f1) bundle starts, draws and renders"
