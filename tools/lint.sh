#!/usr/bin/env bash
# Style checks of the house (settings in setup.cfg, versions in
# requirements/lint.txt): flake8, isort, yapf and codespell. Prints one
# `file:line: tool: message` per problem and exits 1 if there is any.
#
#   bash tools/lint.sh [PATH ...]    (default: the whole project)
#   bash tools/lint.sh --fix [PATH ...]    rewrite imports and layout in place
#
# Runs in the current directory (the repository root under `make lint`) with
# $PY (default: the project's .venv, else `python`).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${PY:-}" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PY="$ROOT/.venv/bin/python"; else PY=python; fi
fi
FIX=0
if [ "${1:-}" = "--fix" ]; then FIX=1; shift; fi
PATHS=("$@")
TEXTS=()
if [ ${#PATHS[@]} -eq 0 ]; then
  PATHS=(lossmix_mm tools tests configs setup.py)
  TEXTS=(README.md docs)
fi

if [ "$FIX" = 1 ]; then
  "$PY" -m isort -q "${PATHS[@]}"
  exec "$PY" -m yapf --in-place --recursive --parallel "${PATHS[@]}"
fi

# A unified diff as one `file:line: tool: message` per hunk (then the diff).
hunks() {
  awk -v tool="$1" -v msg="$2" -v root="$PWD" '
    /^\+\+\+ / { file = $2; sub(/^b\//, "", file); sub(/:after$/, "", file);
                sub("^" root "/", "", file); next }
    /^--- / { next }
    /^@@ / { split($2, a, ","); line = substr(a[1], 2) - 1; open = 1; next }
    open && /^ / { line++; next }
    open && /^[-+]/ { printf "%s:%d: %s: %s\n", file, line + 1, tool, msg; open = 0 }'
}

status=0
"$PY" -m flake8 "${PATHS[@]}" || status=1

out="$("$PY" -m isort --check-only --diff -q "${PATHS[@]}" 2>&1)"
if [ -n "$out" ]; then
  printf '%s\n' "$out" | hunks isort "imports not in the house order (make format)"
  printf '%s\n' "$out"; status=1
fi

out="$("$PY" -m yapf --diff --recursive --parallel "${PATHS[@]}" 2>&1)"
if [ -n "$out" ]; then
  printf '%s\n' "$out" | hunks yapf "layout differs from the house style (make format)"
  printf '%s\n' "$out"; status=1
fi

"$PY" -m codespell_lib "${PATHS[@]}" "${TEXTS[@]}" || status=1

[ "$status" = 0 ] && echo "lint: no problems"
exit "$status"
