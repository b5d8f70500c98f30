#!/bin/bash
# Book speed side by side: commit 7831864's `make book` (01-06) against this checkout's
# `python -m helpers.book notebooks/0[1-6]_*.ipynb`, one after the other on this machine.
# Usage: evidence/book_speed/compare.sh BASELINE_DIR   (a worktree at 7831864 with its own .venv:
#   git worktree add ../baseline 7831864 && make -C ../baseline venv)
# Empty both outputs/ folders first to measure the fresh-clone case.
set -e
baseline=$(cd "$1" && pwd); here=$(git rev-parse --show-toplevel)
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
cd "$baseline" && echo "== baseline $(git rev-parse --short HEAD)"
/usr/bin/time -f "baseline wall %e s" .venv/bin/python -m helpers.book 2>&1 | grep -v "WARNING" | tail -14
cd "$here" && echo "== new $(git rev-parse --short HEAD)"
/usr/bin/time -f "new wall %e s" .venv/bin/python -m helpers.book 'notebooks/0[1-6]_*.ipynb' 2>&1 | tail -14
echo "load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
