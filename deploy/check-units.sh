#!/usr/bin/env bash
# Verify the systemd units in deploy/systemd and print their security exposure.
#
# Installs systemd if systemd-analyze is missing (Debian), creates the `callrouter` system user
# and, when no callrouter is installed at /usr/local/bin/callrouter, links it to this checkout's
# venv so ExecStart= points at an existing binary. Exits non-zero when `systemd-analyze verify`
# reports anything, or when a service's exposure is above MAX_EXPOSURE (default 2.0).
set -euo pipefail
cd "$(dirname "$0")/.."

UNITS_DIR=deploy/systemd
MAX_EXPOSURE=${MAX_EXPOSURE:-2.0}

if ! command -v systemd-analyze >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq systemd >/dev/null
fi

if ! getent passwd callrouter >/dev/null; then
    useradd --system --user-group --home-dir /var/lib/callrouter --no-create-home \
        --shell /usr/sbin/nologin callrouter
fi

if [ ! -e /usr/local/bin/callrouter ]; then
    if [ ! -x .venv/bin/callrouter ]; then
        echo "check-units: no /usr/local/bin/callrouter and no .venv/bin/callrouter to link" >&2
        exit 1
    fi
    ln -s "$PWD/.venv/bin/callrouter" /usr/local/bin/callrouter
fi

# Verify every unit; the timer needs its service next to it, so verify from a copy in one folder
# on the unit search path. Any line of output is a finding.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$UNITS_DIR"/*.service "$UNITS_DIR"/*.timer "$work"/
findings="$work/verify.txt"
status=0
(cd "$work" && SYSTEMD_UNIT_PATH="$work:" systemd-analyze verify --man=no ./*.service ./*.timer) \
    >"$findings" 2>&1 || status=$?
if [ "$status" -ne 0 ] || [ -s "$findings" ]; then
    echo "check-units: systemd-analyze verify failed (exit $status):" >&2
    cat "$findings" >&2
    exit 1
fi
# verify does not notice a timer whose service is missing.
for timer in "$UNITS_DIR"/*.timer; do
    target=$(sed -n 's/^Unit=//p' "$timer")
    target=${target:-$(basename "${timer%.timer}").service}
    if [ ! -f "$UNITS_DIR/$target" ]; then
        echo "check-units: $(basename "$timer") starts $target, which is not in $UNITS_DIR" >&2
        exit 1
    fi
done
echo "systemd-analyze verify: $(ls "$UNITS_DIR" | tr '\n' ' ')ok"

threshold=$(awk -v m="$MAX_EXPOSURE" 'BEGIN { printf "%d", m * 10 }')
worst=0
for unit in "$UNITS_DIR"/*.service; do
    line=$(systemd-analyze security --offline=true --no-pager "$unit" | grep 'Overall exposure level')
    score=$(sed -E 's/.*: ([0-9.]+).*/\1/' <<<"$line")
    echo "$(basename "$unit"): exposure $score ($(sed -E 's/.*[0-9] //' <<<"$line"))"
    if awk -v s="$score" -v t="$threshold" 'BEGIN { exit !(s * 10 > t) }'; then
        echo "check-units: $(basename "$unit") exposure $score is above $MAX_EXPOSURE" >&2
        worst=1
    fi
done
exit "$worst"
