#!/usr/bin/env bash
# The body of `make lint`: every check runs, then the ones that failed are named (exit 1).
#
#   syntax          bash -n on the scripts; Python syntax of migrations/versions (frozen history,
#                   excluded from ruff's rules and from mypy; everything else is parsed below)
#   import-linter   the [tool.importlinter] contracts (one-way layers, standalone starter, ...)
#   ruff check      the [tool.ruff.lint] rules on the whole tree
#   ruff format     `ruff format --check`: the tree is formatted
#   mypy            the [tool.mypy] files (strict on domain/, messages/, workflows/)
#   duplicate-code  pylint's duplicate-code checker alone, over the product code (the same
#                   [tool.mypy] files: not tests/, bench/ or migrations/), thresholds in
#                   [tool.pylint.similarities]
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BIN=.venv/bin
if [ ! -x "$BIN/python" ]; then
    bash scripts/venv.sh || exit 1
fi

failed=()
step() {
    local name=$1
    shift
    echo "lint: $name"
    if ! "$@"; then
        echo "lint: $name FAILED" >&2
        failed+=("$name")
    fi
}

syntax() {
    local f rc=0
    for f in scripts/*.sh .ci/run; do
        bash -n "$f" || rc=1
    done
    # explicit paths are checked despite extend-exclude; E902 alone leaves only syntax (and I/O) errors
    "$BIN/ruff" check --quiet --select E902 migrations/versions || rc=1
    return $rc
}

mapfile -t PRODUCT < <("$BIN/python" -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["tool"]["mypy"]["files"], sep="\n")')

step syntax syntax
step import-linter "$BIN/lint-imports"
step "ruff check" "$BIN/ruff" check .
step "ruff format" "$BIN/ruff" format --check .
step mypy "$BIN/mypy"
step duplicate-code "$BIN/pylint" --disable=all --enable=duplicate-code --score=n --reports=n "${PRODUCT[@]}"

if [ ${#failed[@]} -gt 0 ]; then
    summary=$(printf '%s, ' "${failed[@]}")
    echo "lint: FAILED: ${summary%, }" >&2
    exit 1
fi
echo "lint: ok"
