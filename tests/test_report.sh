#!/bin/sh
# `obliviate report` end to end on the committed fixture (a trimmed real eval
# JSON with every optional section, two training logs): both files, their
# figures, the table on stdout and the paths on stderr; escaping of hostile
# names; one-line errors naming the file for bad input, and no files left
# behind by a failed run.
set -u
OB=${OB:-build/obliviate}
F=tests/fixtures/report
T=$(mktemp -d /tmp/obliviate-report-XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib.sh

check "report on the fixture" $OB report --eval "$F/eval.json" --log "$F/baseline.log.jsonl" \
    --log tiny="$F/tiny.log.jsonl" -o "$T/rep"
cp "$T/out" "$T/table.md"
[ -s "$T/rep/report.md" ] && [ -s "$T/rep/report.html" ] && ok "report.md and report.html written" ||
    bad "files: $(ls "$T/rep" 2>&1)"
grep -qx "report: $T/rep/report.md" "$T/err" && grep -qx "report: $T/rep/report.html" "$T/err" &&
    ok "paths on stderr" || bad "stderr: $(cat "$T/err")"
head -n 1 "$T/table.md" | grep -q "^| metric  *|  *baseline |  *reinforced |  *unlearned |  *oracle |$" &&
    ok "stdout: the table, models as columns" || bad "stdout header: $(head -n 1 "$T/table.md")"
grep -q "^| perplexity general-heldout *| *101.96 | 137.64 (+35.0%) | *104.43 (+2.4%) | *105.89 (+3.9%) |$" \
    "$T/table.md" && ok "general perplexity and change vs baseline" ||
    bad "general row: $(grep general "$T/table.md")"
missing=""
for cell in "17x lower" "8838x lower" "521x higher" "| *0.060 |" "| *0.310 |" "| *0.268 |" "| *0.172 |" \
    "| *+34.7 |" "hellaswag-sample acc_norm" "| *0.561 |" "next-sentence acc" "0.0412 (5.5x higher)"; do
    grep -q -- "$cell" "$T/rep/report.md" || missing="$missing '$cell'"
done
[ -z "$missing" ] && ok "report.md holds every section's figures" || bad "report.md lacks$missing"
grep -q "^| baseline | 2000 | 9.0364 | 4.3056 | - | - |$" "$T/rep/report.md" &&
    grep -q "^| tiny | 120 | .* | 4.6106 | 4.6106 |$" "$T/rep/report.md" && ok "log summary rows" ||
    bad "log rows: $(grep '^| [bt][ai]' "$T/rep/report.md")"
h="$T/rep/report.html"
n_svg=$(grep -c '<svg class="chart"' "$h")
grep -q 'data-charts="10"' "$h" && [ "$n_svg" = 10 ] && grep -q 'id="verbmem"' "$h" &&
    grep -q 'id="knowmem"' "$h" && grep -q 'id="privleak"' "$h" && grep -q 'id="next-sentence"' "$h" && grep -q '<td class="oracle">8838x lower</td>' "$h" &&
    grep -q '<td>104.43 (+2.4%)</td>' "$h" && ok "report.html: table and 10 charts (6 + VerbMem, KnowMem, PrivLeak, next-sentence)" ||
    bad "html: $n_svg charts"
grep -Eq 'https?://|<link|<img| src=| href=' "$h" && bad "report.html refers to an outside resource" ||
    ok "report.html is self-contained"
ls "$T/rep" | grep -q "\.tmp\." && bad "temporary file left behind" || ok "written atomically"

# Hostile names are escaped; unknown keys and absent sections are fine.
cat >"$T/odd.json" <<'EOF'
{"new_top_level": {"x": [1]},
 "models": [{"name": "<script>alert('x')</script>", "perplexity": {"a&b": {"perplexity": 12.5}},
             "future_metric": {"y": 2}},
            {"name": "plain", "familiarity": {"mean_prob": 0.5}}]}
EOF
check "report with odd names" $OB report --eval "$T/odd.json" -o "$T/odd"
grep -q "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" "$T/odd/report.html" &&
    ! grep -q "<script>alert" "$T/odd/report.html" && grep -q "perplexity a&amp;b" "$T/odd/report.html" &&
    ok "names HTML-escaped" || bad "escaping: $(grep -o '.\{20\}alert.\{20\}' "$T/odd/report.html")"
grep -q '^| familiarity (mean P) *| *- | *0.5 |$' "$T/odd/report.md" && ! grep -q "leak" "$T/odd/report.md" &&
    ok "absent figures as '-', absent sections left out" || bad "odd table: $(cat "$T/odd/report.md")"

# Errors: one line naming the file, non-zero exit, nothing written.
printf '{"models": [\n{"name": "a",]}\n' >"$T/broken.json"
expect_error "malformed JSON" "broken.json: not valid JSON (line 2)" \
    $OB report --eval "$T/broken.json" -o "$T/no"
printf '{"models": {"name": "a"}}\n' >"$T/shape.json"
expect_error "models not an array" 'shape.json: "models" is not an array' \
    $OB report --eval "$T/shape.json" -o "$T/no"
printf '{"models": [{"name": "a", "completions": {"leak_rate": "high"}}]}\n' >"$T/num.json"
expect_error "figure not a number" 'num.json: model 1 (a): "completions.leak_rate" is not a number' \
    $OB report --eval "$T/num.json" -o "$T/no"
expect_error "missing eval file" "nothere.json: cannot open" $OB report --eval "$T/nothere.json" -o "$T/no"
printf '{"step":1,"loss":2.5}\n{"step":2,"loss":\n' >"$T/bad.log.jsonl"
expect_error "bad log line" "bad.log.jsonl:2: not valid JSON" \
    $OB report --eval "$F/eval.json" --log "$T/bad.log.jsonl" -o "$T/no"
expect_error "missing log" "nolog.jsonl: cannot open" \
    $OB report --eval "$F/eval.json" --log x="$T/nolog.jsonl" -o "$T/no"
expect_error "bad --log" "NAME=FILE" $OB report --eval "$F/eval.json" --log "=$T/x" -o "$T/no"
expect_error "no --out" "--eval and --out are required" $OB report --eval "$F/eval.json"
expect_error "unknown --oracle" 'no model named "nobody" (--oracle)' \
    $OB report --eval "$F/eval.json" --oracle nobody -o "$T/no"
[ ! -e "$T/no" ] && ok "failed runs wrote nothing" || bad "a failed run left $T/no"
$OB report --help >"$T/out" 2>&1 && grep -q "example:" "$T/out" && ok "report --help" || bad "report --help"

echo "report-cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
