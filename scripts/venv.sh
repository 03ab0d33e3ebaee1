#!/usr/bin/env bash
# Create or reuse .venv and install the project (editable) with its `test` and `dev` extras
# (pytest and friends; ruff, mypy, import-linter and pylint for `make lint`).
#
# The pip step is skipped when .venv/.installed-<sha of pyproject.toml and the extras> exists,
# so repeated `make` calls cost a few milliseconds. Delete the stamp (or .venv) to force it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV=.venv
EXTRAS=test,dev

is_py311() {
    "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' >/dev/null 2>&1
}

pick_python() {
    local cand
    for cand in "${PYTHON:-}" python3.11 python3; do
        [ -n "$cand" ] || continue
        command -v "$cand" >/dev/null 2>&1 || continue
        if is_py311 "$cand"; then
            echo "$cand"
            return 0
        fi
    done
    echo "venv.sh: need Python 3.11 (tried \$PYTHON, python3.11, python3)" >&2
    return 1
}

if [ -x "$VENV/bin/python" ] && ! is_py311 "$VENV/bin/python"; then
    echo "venv.sh: $VENV exists but is not Python 3.11; remove it (rm -rf $VENV) and run again" >&2
    exit 1
fi

if [ ! -x "$VENV/bin/python" ]; then
    py=$(pick_python)
    echo "venv.sh: creating $VENV with $py ($("$py" --version 2>&1))" >&2
    "$py" -m venv "$VENV"
fi

sha=$({ cat pyproject.toml; echo "extras=$EXTRAS"; } | sha256sum | cut -c1-16)
stamp="$VENV/.installed-$sha"
if [ ! -f "$stamp" ]; then
    echo "venv.sh: installing the project into $VENV (pip install -e '.[$EXTRAS]')" >&2
    start=$SECONDS
    log=$(mktemp)
    # -q keeps it quiet; the full log is shown only when pip fails.
    if ! "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[$EXTRAS]" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        echo "venv.sh: pip install failed" >&2
        exit 1
    fi
    # Warnings (e.g. dependency conflicts) are worth seeing even on success; pip's notes about
    # configured find-links folders that do not exist on this machine are not.
    grep -iE '^(warning|error)' "$log" | grep -v 'is ignored: it is neither a file nor a directory' >&2 || true
    rm -f "$log"
    rm -f "$VENV"/.installed-*
    touch "$stamp"
    echo "venv.sh: installed in $((SECONDS - start))s" >&2
fi
