#!/usr/bin/env bash
# `make demo`: a daemon on a scratch embedded home, the example jobs through it, then stop.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
scns="$here/.venv/bin/scns"
export SCNS_HOME="$here/.scns-demo"
rm -rf "$SCNS_HOME" && mkdir -p "$SCNS_HOME/out"
cd "$SCNS_HOME/out"

"$scns" daemon --node demo 2>"$SCNS_HOME/daemon.log" &
daemon=$!
trap 'kill -TERM $daemon 2>/dev/null || true; wait $daemon 2>/dev/null || true' EXIT

ids=()
ids+=("$("$scns" submit --parsable "$here/examples/hello.sh")")
ids+=("$("$scns" submit --parsable "$here/examples/pi.sh")")
ids+=("$("$scns" submit --parsable "$here/examples/fails.sh")")
ids+=("$("$scns" submit --parsable -J sleeper -t 1 --wrap 'sleep 0.5; echo slept')")
"$scns" queue

for _ in $(seq 1 300); do
  [ -z "$("$scns" queue --state PENDING,CONFIGURING,RUNNING --json | grep job_id || true)" ] && break
  sleep 0.1
done
echo
"$scns" queue --all
echo
for id in "${ids[@]}"; do
  "$scns" query "$id" | sed -n '1p;3p;4p;/last/,$p'
done
echo
"$scns" info
echo "daemon log: $SCNS_HOME/daemon.log"
