#!/usr/bin/env bash
# A real two-process Dask cluster on the loopback address, checked against a local run.
#
#   tools/dask_cluster_check.sh [FOLDER] [-- EXTRA OPTIONS...]
#
# Starts `dask scheduler` and two `dask worker` processes (one thread each, no dashboards) on
# 127.0.0.1 with this checkout first on PYTHONPATH, runs
#   python -m kmeans_compress FOLDER --out-dir OUT --scheduler tcp://127.0.0.1:PORT [EXTRA...]
# and the same command locally (--jobs 2), and compares: the exit statuses, the output file
# names and every output byte for byte. Stops the three processes (by their pids) on the way out,
# whatever happened. Exit status 0 when both runs agree, 1 otherwise.
# FOLDER defaults to images/ (a photo, a drawing and an RGBA badge); EXTRA defaults to `-k 16`.
# Needs the [dask] extra (distributed), which brings the `dask` command.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
FOLDER="$(cd "${1:-$ROOT/images}" && pwd)"  # absolute: the runs start in a scratch folder
shift || true
if [[ "${1:-}" == "--" ]]; then shift; fi
EXTRA=("$@")
if [[ ${#EXTRA[@]} -eq 0 ]]; then EXTRA=(-k 16); fi
PYTHON="${PYTHON:-python}"
command -v dask >/dev/null || { echo "dask_cluster_check: no 'dask' command; pip install 'kmeans-compress[dask]'" >&2; exit 2; }

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"  # the workers import this checkout's package

PORT="$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
ADDRESS="tcp://127.0.0.1:$PORT"
dask scheduler --host 127.0.0.1 --port "$PORT" --no-dashboard >"$WORK/scheduler.log" 2>&1 &
PIDS+=($!)
for i in 1 2; do
    dask worker "$ADDRESS" --host 127.0.0.1 --nthreads 1 --no-dashboard --name "worker-$i" \
        --local-directory "$WORK/worker-$i" >"$WORK/worker-$i.log" 2>&1 &
    PIDS+=($!)
done
echo "scheduler $ADDRESS (pid ${PIDS[0]}), workers pids ${PIDS[1]} ${PIDS[2]}"

# Both workers up, and both import this checkout (not another installed copy).
"$PYTHON" - "$ADDRESS" "$ROOT" <<'EOF' || { tail -n 20 "$WORK"/*.log >&2; exit 1; }
import os, sys
from distributed import Client
address, root = sys.argv[1:]
with Client(address, timeout=30) as client:
    client.wait_for_workers(2, timeout=60)
    import kmeans_compress
    files = client.run(lambda: __import__("kmeans_compress").__file__)
    for worker, path in sorted(files.items()):
        print(f"  {worker}: {path}")
        if not path.startswith(root):
            sys.exit(f"worker {worker} imports {path}, not this checkout")
EOF

FAIL=0
set +e
( cd "$WORK" && "$PYTHON" -m kmeans_compress "$FOLDER" --out-dir "$WORK/cluster" --scheduler "$ADDRESS" --no-progress "${EXTRA[@]}" >"$WORK/cluster.out" 2>"$WORK/cluster.err" )
CLUSTER_STATUS=$?
( cd "$WORK" && "$PYTHON" -m kmeans_compress "$FOLDER" --out-dir "$WORK/local" --jobs 2 --no-progress "${EXTRA[@]}" >"$WORK/local.out" 2>"$WORK/local.err" )
LOCAL_STATUS=$?
set -e
echo "--- on the cluster (exit $CLUSTER_STATUS)"; cat "$WORK/cluster.out" "$WORK/cluster.err"
echo "--- local, --jobs 2 (exit $LOCAL_STATUS)"; cat "$WORK/local.out" "$WORK/local.err"
if ! diff -q "$WORK/cluster.err" "$WORK/local.err" >/dev/null; then echo "DIFFERENT messages on stderr"; FAIL=1; fi

if [[ $CLUSTER_STATUS -ne $LOCAL_STATUS ]]; then echo "DIFFERENT exit statuses"; FAIL=1; fi
if ! diff <(cd "$WORK/cluster" && find . -type f | sort) <(cd "$WORK/local" && find . -type f | sort); then
    echo "DIFFERENT output files (above: < cluster, > local)"; FAIL=1
fi
N=0
while IFS= read -r -d '' f; do
    N=$((N + 1))
    if ! cmp -s "$WORK/cluster/$f" "$WORK/local/$f"; then echo "DIFFERENT bytes: $f"; FAIL=1; fi
done < <(cd "$WORK/cluster" && find . -type f -print0)
if [[ $N -eq 0 ]]; then echo "no output files were written"; FAIL=1; fi
if [[ $FAIL -eq 0 ]]; then
    echo "OK: $N output files, byte for byte the same on the cluster and locally; exit status $CLUSTER_STATUS both"
fi
exit $FAIL
