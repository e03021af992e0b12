#!/bin/sh
# spec/fuzz/run.sh: `make fuzz`. Runs each libFuzzer target for the given
# seconds on a fresh copy of its committed corpus, then prints one line per
# target (executions and exec/s from libFuzzer's final stats, new corpus
# entries, crash). Exits 1 if any target crashed, leaked or timed out.
#   sh spec/fuzz/run.sh <fuzzdir> <seconds> <libfuzzer args> <target>...
set -u

dir=$1 secs=$2 args=$3
shift 3
mkdir -p "$dir/work" "$dir/artifacts" "$dir/logs"
failed=0
summary=""

for t in "$@"; do
    work="$dir/work/$t"
    rm -rf "$work"
    mkdir -p "$work"
    cp spec/fuzz/corpus/"$t"/* "$work"/ 2>/dev/null
    seeds=$(ls "$work" | wc -l)
    dict=""
    [ -f "spec/fuzz/$t.dict" ] && dict="-dict=spec/fuzz/$t.dict"
    log="$dir/logs/$t.log"
    echo "fuzz: $t for ${secs}s ($seeds seeds)" >&2
    # shellcheck disable=SC2086
    "$dir/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 $args $dict \
        -artifact_prefix="$dir/artifacts/$t-" "$work" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n 1)
    grown=$(( $(ls "$work" | wc -l) - seeds ))
    result=ok
    if [ "$rc" -ne 0 ]; then
        failed=1
        artifact=$(sed -n 's/.*Test unit written to //p' "$log" | tail -n 1)
        result="FAILED (exit $rc) ${artifact:-see $log}"
        grep -a -m 3 -E 'check failed|ERROR: |SUMMARY: ' "$log" >&2
    fi
    summary="$summary$(printf '%-10s %12s %10s %8s %8s  %s' "$t" "${execs:-?}" "${rate:-?}" \
        "${rss:-?}" "+$grown" "$result")
"
done

printf '\n%-10s %12s %10s %8s %8s  %s\n' target executions exec/s rss_mb corpus result
printf '%s' "$summary"
exit $failed
