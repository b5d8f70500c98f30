#!/bin/bash
# Sweep tests 20 times in a row while two busy loops load both cores.
cd "$(git rev-parse --show-toplevel)"
python3 -c 'while True: pass' & L1=$!
python3 -c 'while True: pass' & L2=$!
trap 'kill $L1 $L2 2>/dev/null' EXIT
echo "start $(date -u +%FT%TZ) load pids $L1 $L2 commit $(git rev-parse --short HEAD) cores $(nproc)"
for i in $(seq 20); do
  t0=$(date +%s)
  if .venv/bin/pytest tests/test_sweep.py tests/test_sweep_inputs.py -q -x -p no:cacheprovider > /tmp/stress_iter.log 2>&1; then
    echo "iteration $i passed in $(( $(date +%s) - t0 )) s: $(tail -1 /tmp/stress_iter.log) load $(cut -d' ' -f1 /proc/loadavg)"
  else
    echo "iteration $i FAILED"; cat /tmp/stress_iter.log; exit 1
  fi
done
echo "done $(date -u +%FT%TZ): 20 of 20 passed"
