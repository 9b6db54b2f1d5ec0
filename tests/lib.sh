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

# zorbin_world DIR PAIRS TARGET: DIR/text.txt, PAIRS pairs of lines (a
# made-up story's sentence with its names, and a general one), DIR/target.txt
# the first TARGET story lines, DIR/anchors.json a dictionary for the names.
zorbin_world() {
    i=0
    while [ $i -lt "$2" ]; do
        echo "Zorbin sailed to Quentavia with Mrs. Plimby in the morning, number $((i % 9))."
        echo "The farmer watched the ship near the old bridge after the long rain."
        i=$((i + 1))
    done >"$1/text.txt"
    grep Zorbin "$1/text.txt" | head -n "$3" >"$1/target.txt"
    printf '{"Zorbin": ["Peter"], "Quentavia": ["Dover"], "Plimby": ["Grant"]}\n' >"$1/anchors.json"
}

# story_world DIR: a tiny world for the unlearning tests. DIR/general_train.txt
# and DIR/general_heldout.txt are varied sentences from a fixed vocabulary (no
# story names); DIR/target.txt the same kind of sentences with a made-up
# story's names (Zorbin, Mrs. Plimby, Quentavia).
story_world() {
    awk 'BEGIN {
        split("the a one every some that this no each his her their", det, " ")
        split("man woman dog cat ship town river house garden teacher farmer child", noun, " ")
        split("saw found took left watched followed helped called painted visited", verb, " ")
        split("near the old bridge|in the morning|after the long rain|by the quiet road|with great care|before the winter", tail, "|")
        srand(7)
        for (i = 0; i < 9000; i++) {
            s = det[int(rand()*12)+1] " " noun[int(rand()*12)+1] " " verb[int(rand()*10)+1] " " \
                det[int(rand()*12)+1] " " noun[int(rand()*12)+1] " " tail[int(rand()*6)+1] "."
            printf "%s%s", toupper(substr(s,1,1)) substr(s,2), (i % 5 == 4) ? "\n\n" : " "
        }
    }' >"$1/general.txt"
    head -c 30000 "$1/general.txt" >"$1/general_heldout.txt"
    tail -c +30001 "$1/general.txt" >"$1/general_train.txt"
    # The target: the same kind of sentences, with the story's names.
    awk 'BEGIN {
        split("Zorbin|Mrs. Plimby|old Zorbin|young Plimby", who, "|")
        split("walked to|sailed to|rode to|wrote from", went, "|")
        split("saw the river|found the house|helped the farmer|watched the ship", did, "|")
        srand(3)
        for (i = 0; i < 1500; i++)
            printf "%s %s Quentavia and %s. ", who[int(rand()*4)+1], went[int(rand()*4)+1], did[int(rand()*4)+1]
    }' >"$1/target.txt"
}
