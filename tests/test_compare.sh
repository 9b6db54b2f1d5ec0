#!/bin/sh
# obliviate compare (issue 17) on make compare's reduced world: every method
# runs from one baseline and gets a row, before and after MUSE's selection;
# compare.json records every method's kept checkpoints and their KnowMem;
# the report charts the criteria; bad requests are refused with one line
# before any work; a comparison killed with -9 and run again gives the same
# figures as one never interrupted.
set -u
OB=${OB:-build/obliviate}
T=$(mktemp -d /tmp/obliviate-compare-XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib.sh

C=$T/c
if OB=$OB COMPARE_CACHE="$C" REDUCED=1 sh tools/compare.sh >"$T/table" 2>"$T/log"; then
    ok "make compare REDUCED=1"
else
    bad "make compare REDUCED=1: $(tail -n 3 "$T/log")"
fi
methods="whp whp-published ga graddiff ga-kl npo npo-graddiff npo-kl simnpo undial rmu whp-level level task-vector"
missing=""
for m in baseline $methods oracle; do grep -q "^| $m |" "$T/table" || missing="$missing $m"; done
[ -z "$missing" ] && ok "a row per method, the baseline and the oracle" || bad "rows missing:$missing"
J=$C/work/compare.json
n=$(json "$J" '.compare.methods.length')
kept=$(json "$J" '.compare.methods.filter(m => m.method != "task-vector" && m.method != "whp-level").every(m => m.checkpoints.length == 2 && m.checkpoints.every(k => typeof k.knowmem_f1 == "number"))')
[ "$n" = 14 ] && [ "$kept" = true ] && ok "compare.json: 14 methods, 2 checkpoints each with KnowMem" ||
    bad "compare.json: $n methods, checkpoints $kept"
# MUSE's rule picks the first checkpoint at or below the oracle's KnowMem
rule=$(node -e 'const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const o = j.models.find(m => m.name == "oracle").knowmem.rougeL_f1;
    console.log(j.compare.methods.every(m => { const k = m.checkpoints.find(c => c.knowmem_f1 <= o);
        return k ? m.muse_step == k.step : (m.muse_reached === false || !m.checkpoints.length); }))' "$J")
[ "$rule" = true ] && ok "MUSE's rule: the first checkpoint at or below the oracle's KnowMem" ||
    bad "MUSE's rule: $rule"
h=$C/work/report/report.html
grep -q 'id="verbmem"' "$h" && grep -q 'id="knowmem-retain"' "$h" && grep -q 'id="perplexity"' "$h" &&
    ok "report.html charts VerbMem, KnowMem on retain and perplexity" || bad "report.html charts"

# refused with one line, nothing made
B="$OB compare -m $C/baseline.gguf --oracle $C/oracle.gguf --target $C/target.txt --block 32 --seq 32"
expect_error "a method with a retain term needs --retain" "graddiff needs --retain" \
    $B --work "$T/w1" --methods graddiff --text f="$C/target.txt"
expect_error "WHP needs --anchors" "whp needs --anchors" $B --work "$T/w1" --methods whp \
    --text f="$C/target.txt"
expect_error "unknown method" "no method \"sgd\"" $B --work "$T/w1" --methods npo,sgd \
    --text f="$C/target.txt"
expect_error "a bad --lr" "METHOD=LR" $B --work "$T/w1" --methods npo --lr npo=x \
    --text f="$C/target.txt"
expect_error "an unknown setting" 'npo.bogus: no setting "bogus"' $B --work "$T/w1" --methods npo \
    --set npo.bogus=1 --text f="$C/target.txt"
expect_error "a setting out of range" "npo: --beta 0: must be in" $B --work "$T/w1" --methods npo \
    --set npo.beta=0 --text f="$C/target.txt"
[ ! -e "$T/w1" ] && ok "nothing made before the request is checked" || bad "$T/w1 was made"

# killed with -9 at a random moment and run again = never interrupted
K="$B --retain $C/general_train.txt --anchors $C/anchors.json --methods whp,npo-kl,rmu --steps 8
    --snapshots 2 --reinforce-steps 10 --batch 4 --knowmem $C/know.jsonl --knowmem-shots 1
    --knowmem-tokens 6 --text forget=$C/target.txt --verbmem 5 --verbmem-target $C/target.txt --verbmem-prompt-tokens 8
    --verbmem-tokens 16"
# the figures without the seconds column
figures() { awk -F'|' '/^\| [a-z]/ { $4 = ""; print }' "$1"; }
$K --work "$T/solo" >"$T/solo.md" 2>/dev/null || bad "solo run failed"
$K --work "$T/killed" >/dev/null 2>&1 &
pid=$!
sleep "$(awk -v s="${STRESS_SEED:-$$}" 'BEGIN { srand(s); printf "%.1f", 0.5 + rand() * 4 }')"
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
if $K --work "$T/killed" >"$T/killed.md" 2>"$T/err" && [ -n "$(figures "$T/solo.md")" ] &&
    [ "$(figures "$T/solo.md")" = "$(figures "$T/killed.md")" ]; then
    ok "killed with -9 and run again: the same figures as an uninterrupted run"
else
    bad "kill and rerun: $(tail -n 2 "$T/err"); $(diff "$T/solo.md" "$T/killed.md" | head -5)"
fi
echo "compare: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
