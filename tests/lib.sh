# Shared helpers for the shell tests: counters, checks, JSON field access.
# A test sources it after setting T (its temp folder) and prints
# "NAME: $passed passed, $failed failed" at the end.
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $1" >&2; }
bad() { failed=$((failed + 1)); echo "FAIL $1" >&2; }
# check NAME COMMAND...: passes when the command succeeds (stdout in $T/out).
check() {
    name=$1
    shift
    if "$@" >"$T/out" 2>"$T/err"; then ok "$name"; else bad "$name: $(tail -n 3 "$T/err")"; fi
}
# expect_error NAME PATTERN COMMAND...: fails with exit 1 or 2 and one stderr
# line matching PATTERN, never a crash.
expect_error() {
    name=$1 pat=$2
    shift 2
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
    lines=$(wc -l <"$T/err")
    if { [ $rc -eq 1 ] || [ $rc -eq 2 ]; } && [ "$lines" -eq 1 ] && grep -q -- "$pat" "$T/err"; then
        ok "$name"
    else
        bad "$name: exit $rc, stderr: $(head -c 300 "$T/err")"
    fi
}
# json FILE EXPR: prints a field of a JSON file (arrays comma-joined).
json() {
    node -e 'const v = eval("JSON.parse(require(\"fs\").readFileSync(process.argv[1], \"utf8\"))" + process.argv[2]);
             console.log(Array.isArray(v) ? v.join(",") : v)' "$1" "$2"
}
# lt A B: A < B for decimal numbers
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
