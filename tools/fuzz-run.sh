#!/bin/sh
# Runs each libFuzzer target given for SECONDS, one after the other (they
# share the machine), from its committed seeds in fuzz/corpus/<target>/ plus
# what earlier runs found in build-fuzz/corpus/<target>/. A crash, leak,
# sanitizer report, timeout or single allocation over the RSS limit stops
# that target and leaves its input in build-fuzz/crashes/; the run goes on
# to the next target and fails at the end. Prints executions per target.
# usage: tools/fuzz-run.sh SECONDS build-fuzz/fuzz_NAME...
set -u
secs=$1
shift
mkdir -p build-fuzz/crashes
total=0
crashed=""
for bin in "$@"; do
    case "$bin" in *.d) continue ;; esac
    name=${bin##*/fuzz_}
    mkdir -p "build-fuzz/corpus/$name"
    log="build-fuzz/$name.log"
    "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="build-fuzz/crashes/$name-" "build-fuzz/corpus/$name" "fuzz/corpus/$name" \
        >"$log" 2>&1
    rc=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n 1)
    runs=${runs:-0}
    total=$((total + runs))
    if [ $rc -ne 0 ]; then
        crashed="$crashed $name"
        echo "fuzz $name: $runs executions, CRASH (exit $rc; see $log):"
        grep -E 'ERROR|runtime error|Test unit written' "$log" | head -n 5
    else
        echo "fuzz $name: $runs executions in ${secs}s, no crash"
    fi
done
echo "fuzz: $total executions in all"
[ -z "$crashed" ] || { echo "fuzz: crashes in:$crashed"; exit 1; }
