#!/usr/bin/env bash
# `make demo`: a daemon on a scratch embedded home, a short tour of scns through it, then stop.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
scns="$here/.venv/bin/scns"
export SCNS_HOME="$here/.scns-demo"
export SCNS_SOCKET=  # this scratch home, even when a system daemon serves the machine
rm -rf "$SCNS_HOME" && mkdir -p "$SCNS_HOME/out"
cd "$SCNS_HOME/out"

say() { printf '\n== %s\n' "$*"; }
show() {  # the command line as one would type it
  local line='$ scns' word
  for word in "$@"; do
    if [[ "$word" =~ [^A-Za-z0-9_./:%=,+-] ]]; then line+=" '$word'"; else line+=" $word"; fi
  done
  printf '%s\n' "$line"
}
run() { show "$@"; "$scns" "$@"; }
submit() { show submit "$@" >&2; "$scns" submit --parsable "$@"; }

# `scns wait` exits with the highest exit code of the jobs; without it, poll the queue
wait_for() {
  if "$scns" wait --help >/dev/null 2>&1; then
    local code=0
    run wait "$@" || code=$?
    echo "scns wait exited with $code"
  else
    show queue '# until nothing is pending or running'
    for _ in $(seq 1 600); do
      [ -z "$("$scns" queue --state PENDING,CONFIGURING,RUNNING --json | grep job_id || true)" ] \
        && return 0
      sleep 0.1
    done
  fi
}

say "A daemon for this machine, on the scratch home $SCNS_HOME"
"$scns" daemon --node demo 2>"$SCNS_HOME/daemon.log" &
daemon=$!
trap 'kill -TERM $daemon 2>/dev/null || true; wait $daemon 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do [ -S "$SCNS_HOME/run/wake/demo.sock" ] && break; sleep 0.1; done
run info

say "Three example jobs: a greeting, a 2-CPU estimate of pi, and one that exits with status 3"
hello=$(submit "$here/examples/hello.sh")
pi=$(submit "$here/examples/pi.sh")
fails=$(submit "$here/examples/fails.sh")

say "A dependency: 'report' starts only after the pi job has succeeded (afterok)"
report=$(submit -J report -d "afterok:$pi" --wrap "echo the pi job $pi succeeded")

say "An array: eight tasks of a second each, at most two at a time, each with its own output"
squares=$(submit -J squares -a 0-7%2 -o 'squares-%a.out' \
  --wrap 'sleep 1; echo $((SLURM_ARRAY_TASK_ID * SLURM_ARRAY_TASK_ID))')
run queue

say "A cancel: a job that would sleep ten minutes, cancelled at once"
long=$(submit -J long --wrap 'sleep 600')
run cancel "$long"

say "A wait: block until every job has ended; the exit code is the highest of theirs (3)"
wait_for "$hello" "$pi" "$fails" "$report" "$squares"

say "Everything that ran, and how it ended"
run queue --all
run query "$report"
echo "squares: $(cat squares-*.out | tr '\n' ' ')"

say "The numbers an operator asks first"
run stats

say "Done"
echo "scns is $scns: put it on your PATH with"
echo "  export PATH=\"$here/.venv/bin:\$PATH\""
echo "the daemon's log: $SCNS_HOME/daemon.log"
