#!/usr/bin/env bash
# The body of `make test`: the whole suite twice, on SQLite and then on a throwaway PostgreSQL.
#
#   scripts/test.sh [pytest args...]     e.g. scripts/test.sh -k transfer -x
#
# Both runs must pass. A run fails when pytest exits non-zero (exit 5, "no tests collected",
# included) or when its summary shows zero tests passed. The PostgreSQL cluster is started by
# scripts/pg.sh and stopped on any exit (success, failure, Ctrl-C).
# ZHTJ_TEST_BACKENDS="sqlite" (or "postgresql") runs only that pass.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export PYTHONUNBUFFERED=1
PY=.venv/bin/python
if [ ! -x "$PY" ]; then
    bash scripts/venv.sh || exit 1
fi

# The browser tests drive Debian's chromium, and need a CJK font for the Chinese pages.
if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -i "noto sans cjk" >/dev/null; then  # not grep -q: under pipefail its early exit fails fc-list (SIGPIPE)
    if [ "$(id -u)" -eq 0 ]; then
        echo "test.sh: installing Debian's chromium and fonts-noto-cjk for the browser tests" >&2
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk) \
            >"${TMPDIR:-/tmp}/zhtj-apt-chromium.log" 2>&1 ||
            { echo "test.sh: apt-get install chromium fonts-noto-cjk failed:" >&2; tail -n 20 "${TMPDIR:-/tmp}/zhtj-apt-chromium.log" >&2; exit 1; }
    else
        echo "test.sh: /usr/bin/chromium or a CJK font is missing; install chromium and fonts-noto-cjk" >&2
    fi
fi

BACKENDS=${ZHTJ_TEST_BACKENDS:-sqlite postgresql}
PG_DIR=""
WORK=$(mktemp -d /tmp/zhtj-test-XXXXXX)

cleanup() {
    if [ -n "$PG_DIR" ]; then
        ZHTJ_PG_DIR=$PG_DIR bash scripts/pg.sh stop || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "test.sh: interrupted" >&2; exit 130' INT
trap 'echo "test.sh: terminated" >&2; exit 143' TERM HUP

# Per backend: exit code, counts, verdict.
declare -A RC PASSED FAILED SKIPPED VERDICT
overall=0

# Pull "N <word>" out of pytest's closing summary line ("= 3 failed, 10 passed in 5.1s =",
# or with -q "3 failed, 10 passed in 5.1s"; "no tests ran in 0.01s" counts as nothing).
count_of() { # $1=summary line, $2=word regex
    local n
    n=$(grep -oE "[0-9]+ ($2)\b" <<<"$1" | head -n1 | cut -d' ' -f1)
    echo "${n:-0}"
}

run_pass() { # $1=backend, then pytest args
    local backend=$1
    shift
    local out="$WORK/pytest-$backend.log" rc summary
    echo
    echo "==================== test.sh: $backend ===================="
    ZHTJ_TEST_DATABASE=$backend "$PY" -m pytest "$@" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    # e.g. "3 failed, 10 passed, 2 skipped in 5.10s", "= 7 passed in 70.12s (0:01:10) =" (colours stripped)
    summary=$(sed -E 's/\x1b\[[0-9;]*m//g' "$out" |
        grep -E '^(=+ )?(no tests ran|[0-9]+ [a-z]+(, [0-9]+ [a-z]+)*) in [0-9.]+s( \([0-9:]+\))?( =+)?$' | tail -n1)
    RC[$backend]=$rc
    PASSED[$backend]=$(count_of "$summary" passed)
    FAILED[$backend]=$(($(count_of "$summary" failed) + $(count_of "$summary" 'errors?')))
    SKIPPED[$backend]=$(count_of "$summary" skipped)
    if [ "$rc" -eq 5 ]; then
        VERDICT[$backend]="FAILED (pytest exit 5: no tests collected)"
    elif [ "$rc" -ne 0 ]; then
        VERDICT[$backend]="FAILED (pytest exit $rc)"
    elif [ -z "$summary" ]; then
        VERDICT[$backend]="FAILED (no pytest summary line found)"
    elif [ "${PASSED[$backend]}" -eq 0 ]; then
        VERDICT[$backend]="FAILED (zero tests passed)"
    else
        VERDICT[$backend]="ok"
    fi
    [ "${VERDICT[$backend]}" = ok ] || overall=1
}

for backend in $BACKENDS; do
    case "$backend" in
        sqlite)
            run_pass sqlite "$@"
            ;;
        postgresql)
            PG_DIR=$(mktemp -d /tmp/zhtj-pg-XXXXXX)
            echo
            echo "test.sh: starting a throwaway PostgreSQL in $PG_DIR"
            t0=$SECONDS
            if url=$(ZHTJ_PG_DIR=$PG_DIR bash scripts/pg.sh start); then
                echo "test.sh: PostgreSQL ready in $((SECONDS - t0))s at $url"
                ZHTJ_TEST_PG_URL=$url run_pass postgresql "$@"
            else
                RC[postgresql]=1
                PASSED[postgresql]=0
                FAILED[postgresql]=0
                SKIPPED[postgresql]=0
                VERDICT[postgresql]="FAILED (could not start PostgreSQL)"
                overall=1
            fi
            ZHTJ_PG_DIR=$PG_DIR bash scripts/pg.sh stop || true
            PG_DIR=""
            ;;
        *)
            echo "test.sh: unknown backend '$backend' in ZHTJ_TEST_BACKENDS (sqlite, postgresql)" >&2
            exit 2
            ;;
    esac
done

echo
total_passed=0
total_failed=0
total_skipped=0
for backend in $BACKENDS; do
    echo "test.sh: $backend: ${VERDICT[$backend]} - ${PASSED[$backend]} passed, ${FAILED[$backend]} failed, ${SKIPPED[$backend]} skipped"
    total_passed=$((total_passed + PASSED[$backend]))
    total_failed=$((total_failed + FAILED[$backend]))
    total_skipped=$((total_skipped + SKIPPED[$backend]))
done
# The last line is the plain "N passed, N failed" form that CI reads.
echo "total: $total_passed passed, $total_failed failed, $total_skipped skipped"
exit "$overall"
