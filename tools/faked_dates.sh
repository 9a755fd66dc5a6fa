#!/usr/bin/env bash
# The date-sensitive tests under faked wall clocks (libfaketime), so a test that reads today's date fails here
# rather than on the day CI happens to run. Dates: a term's last days, Easter's, the summer term's last day, the
# summer holiday, when the old example terms ran out, half terms, a bank holiday, the DST change weekends, and
# three years on. Usage: tools/faked_dates.sh [--all] [--date "YYYY-MM-DD HH:MM:SS"]... [PYTHON]
#   (make test-dates: the date-sensitive subset at every date below;
#    make test-dates-all [DATE="2027-03-24 12:00:00"]: the whole suite, at that date or at each date in turn)
# --all runs the whole suite (tests/) rather than the subset, minus what is wall-clock by design (WALL_CLOCK below);
# --date (repeatable) runs only the dates given. Each date stops at its first failure (-x).
set -euo pipefail
cd "$(dirname "$0")/.."
ALL=0
ONLY=()
while [ $# -gt 0 ]; do
  case "$1" in
    --all) ALL=1; shift ;;
    --date) [ $# -ge 2 ] || { echo "--date needs a date, e.g. --date '2027-03-24 12:00:00'" >&2; exit 2; }
            ONLY+=("$2"); shift 2 ;;
    --*) echo "unknown option $1 (--all, --date D)" >&2; exit 2 ;;
    *) break ;;
  esac
done
PY="${1:-.venv/bin/python}"
if ! command -v faketime >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get install -y -qq faketime >/dev/null 2>&1 || { apt-get update -qq >/dev/null && apt-get install -y -qq faketime >/dev/null; })
  else
    echo "faketime is not installed (Debian: apt-get install faketime)" >&2
    exit 1
  fi
fi
DATES=(
  "2026-12-17 16:30:00"  # the autumn term's last days
  "2026-12-18 08:00:00"
  "2027-03-24 12:00:00"  # the spring term's last days (Easter early)
  "2027-07-19 12:00:00"  # the summer term's last days
  "2027-08-20 12:00:00"  # the summer holiday
  "2028-09-01 10:00:00"  # after the old example terms ran out
  "2027-02-17 10:00:00"  # February half term
  "2027-05-31 10:00:00"  # spring bank holiday
  "2026-10-25 01:30:00"  # clocks go back
  "2027-03-28 00:30:00"  # clocks go forward
  "2029-12-06 10:00:00"  # three years on
)
if [ ${#ONLY[@]} -gt 0 ]; then DATES=("${ONLY[@]}"); fi
# What is wall-clock by design, left out of every run here (the whole suite's too): tests/bot/test_playground.py
# drives Microsoft's Agents Playground (node) against the running bot.
# (The clock runs from the faked date: monotonic time is faked with it, at the real rate. With
# FAKETIME_DONT_FAKE_MONOTONIC=1, as this script once set, libfaketime makes every absolute-deadline sleep fail with
# EINVAL (time.sleep, subprocess time-outs, a browser's launch): 150 tests of a whole run failed on that, not on a
# date, and the token and emulator tests had to be left out.)
WALL_CLOCK=(--ignore tests/bot/test_playground.py)
if [ "$ALL" = 1 ]; then
  TESTS=(tests "${WALL_CLOCK[@]}")
  # Downloads happen before the clock is faked: npm's registry certificates are not valid in 2029, and the card
  # tests' renderer (npm ci into tests/browser, once) and Debian's chromium are the suite's only downloads.
  bash tests/browser/install-chromium.sh
  "$PY" -c 'import sys; sys.path.insert(0, "tests/browser"); import cardrender; cardrender.install_renderer()' 
else
  # The tests that build services on the composition root's clock, read the demo's terms or run the CLI.
  TESTS=(tests/cli/test_cli.py tests/cli/test_demo.py tests/feedback/test_feedback_cli.py tests/bot tests/chat
         tests/scheduler/test_notifications_delivery.py tests/graph/test_graph_bootstrap.py
         tests/graph/test_graph_watcher.py tests/scheduler/test_scheduler_thread.py "${WALL_CLOCK[@]}")
fi
status=0
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
for d in "${DATES[@]}"; do
  if faketime "$d" "$PY" -m pytest -q -p no:cacheprovider -x "${TESTS[@]}" \
      > "$log" 2>&1; then
    echo "dates: $d: $(tail -n 1 "$log")"
  else
    echo "dates: $d: FAILED"; tail -n 40 "$log"; status=1
  fi
done
exit $status
