#!/bin/sh
# Runs every test program and shell test given, sums their "N passed, N failed"
# lines and prints the total last. A program that crashes or prints no summary
# counts as one failed test, so a run that executed nothing cannot look green.
passed=0
failed=0
for t in "$@"; do
    case "$t" in *.sh) cmd="sh $t" ;; *) cmd="$t" ;; esac
    echo "== $t"
    out=$($cmd 2>&1)
    rc=$?
    summary=$(printf '%s\n' "$out" | grep -E '^[a-z_ -]+: [0-9]+ passed, [0-9]+ failed$' | tail -n 1)
    if [ -z "$summary" ]; then
        printf '%s\n' "$out" | tail -n 30
        echo "FAIL $t: exited with status $rc and printed no summary"
        failed=$((failed + 1))
        continue
    fi
    p=$(echo "$summary" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
    f=$(echo "$summary" | sed -E 's/.* ([0-9]+) failed$/\1/')
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    if [ "$f" -ne 0 ]; then printf '%s\n' "$out" | grep -E 'FAIL|error' | head -n 40; fi
    echo "$summary"
    passed=$((passed + p))
    failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
