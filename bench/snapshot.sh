#!/usr/bin/env bash
# Exports the committed code (HEAD) plus the working tree's benchmark files into DIR, so the
# suite can measure a consistent tree while the working copy is being edited:
#   REPO=$PWD; bash bench/snapshot.sh "$SNAP" && cd "$SNAP" && \
#     PYTHONPATH="$SNAP" BENCH_GIT_COMMIT=$(git -C "$REPO" rev-parse --short HEAD)+bench \
#     "$REPO/.venv/bin/python" -m bench.run_all --results "$REPO/bench/results"
# Read-only for git: it uses `git archive`, never a checkout.
set -euo pipefail
DIR=${1:?usage: bench/snapshot.sh DIR}
REPO=$(cd "$(dirname "$0")/.." && pwd)
rm -rf "$DIR"
mkdir -p "$DIR"
git -C "$REPO" archive HEAD | tar -x -C "$DIR"
for f in bench agencywatch/mirror/province.py agencywatch/cli.py; do
  cp -r "$REPO/$f" "$DIR/$(dirname "$f")/"
done
rm -rf "$DIR/bench/results" "$DIR/bench/__pycache__"
