#!/bin/sh
# `obliviate eval` end to end: a tiny model trained to say "Sherlock Holmes"
# and its untrained initialisation compared side by side (table and JSON,
# completion familiarity included), one-line errors for models with different
# tokenizers and for bad prompts.
set -u
OB=${OB:-build/obliviate}
T=$(mktemp -d /tmp/obliviate-eval-cli-XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib.sh

i=0
while [ $i -lt 300 ]; do
    echo "Sherlock Holmes lit his pipe by the fire."
    echo "A cat sat on a mat."
    echo "Sherlock Holmes looked out of the window at the rain number $((i % 7))."
    echo "Birds sing in the morning while rain falls on green hills."
    i=$((i + 1))
done >"$T/forget.txt"
i=0
while [ $i -lt 100 ]; do
    echo "Ships sail across the sea and birds sing in the morning near the hills."
    i=$((i + 1))
done >"$T/general.txt"
cat >"$T/prompts.jsonl" <<'EOF'
{"prompt": "Sherlock", "continuation": " Holmes", "story": 1}

{"prompt": "Sherlock Holmes lit his", "continuation": " pipe", "story": 1}
{"prompt": "A cat sat on a", "continuation": " mat", "story": 2}
EOF

check "tokenizer train" $OB tokenizer train --vocab 400 -o "$T/tok.gguf" "$T/forget.txt" "$T/general.txt"
check "init" $OB init --preset tiny --ctx 64 --tokenizer "$T/tok.gguf" -o "$T/untrained.gguf"
check "train" $OB train -m "$T/untrained.gguf" -o "$T/trained.gguf" --steps 150 --batch 4 --seq 48 \
    --lr 3e-3 --warmup 10 --log-every 1000 --threads 2 "$T/forget.txt"

check "eval two models" $OB eval -m "$T/trained.gguf" -m "$T/untrained.gguf" \
    --text forget="$T/forget.txt" --text general="$T/general.txt" --prompts "$T/prompts.jsonl" \
    --seq 48 --max-windows 16 --threads 2 --json "$T/eval.json"
cp "$T/out" "$T/table.txt"
cp "$T/err" "$T/progress.txt"
head -n 1 "$T/table.txt" | grep -q "trained.*untrained" && ok "table columns are the models" ||
    bad "table header: $(head -n 1 "$T/table.txt")"
missing=""
for row in "perplexity forget" "perplexity general" "familiarity (mean P)" "mean log-prob" \
    "median first-token rank" "first token is top-1"; do
    grep -q "^$row " "$T/table.txt" || missing="$missing '$row'"
done
[ -z "$missing" ] && ok "table rows" || bad "table lacks$missing"
grep -q "eval: trained: familiarity" "$T/progress.txt" &&
    grep -q "eval: untrained: forget perplexity" "$T/progress.txt" && ok "progress on stderr" ||
    bad "progress: $(head -c 300 "$T/progress.txt")"

p_trained=$(json "$T/eval.json" "['models'][0]['familiarity']['mean_prob']")
p_untrained=$(json "$T/eval.json" "['models'][1]['familiarity']['mean_prob']")
lt 0.5 "$p_trained" && lt "$p_untrained" 0.05 &&
    ok "familiarity: trained $p_trained, untrained $p_untrained" ||
    bad "familiarity: trained $p_trained, untrained $p_untrained"
ppl_t=$(json "$T/eval.json" "['models'][0]['perplexity']['forget']['perplexity']")
ppl_u=$(json "$T/eval.json" "['models'][1]['perplexity']['forget']['perplexity']")
lt "$ppl_t" 3 && lt 100 "$ppl_u" && ok "perplexity: trained $ppl_t, untrained $ppl_u" ||
    bad "perplexity: trained $ppl_t, untrained $ppl_u"
names=$(json "$T/eval.json" "['models'].map(m => m.name)")
n_items=$(json "$T/eval.json" "['models'][1]['familiarity']['items'].length")
lines=$(json "$T/eval.json" "['prompts']['items'].map(i => i.line)")
story=$(json "$T/eval.json" "['prompts']['items'][2]['story']")
rank=$(json "$T/eval.json" "['models'][0]['familiarity']['items'][0]['first_rank']")
fields=$(json "$T/eval.json" "['models'][0]['familiarity']['items'][0]['argmax']")
[ "$names" = "trained,untrained" ] && [ "$n_items" = 3 ] && [ "$lines" = "1,3,4" ] &&
    [ "$story" = 2 ] && [ "$rank" = 1 ] && [ "$fields" = " Holmes" ] &&
    ok "JSON holds models, per-prompt results and the prompts' own fields" ||
    bad "JSON: names $names, items $n_items, lines $lines, story $story, rank $rank, argmax '$fields'"
ls "$T" | grep -q "\.tmp\." && bad "temporary file left behind" || ok "JSON written atomically"

# Completion familiarity: prompts cut from the forget text before a key.
printf '{"Sherlock": "Edward", "Holmes": "Hartley"}\n' >"$T/anchors.json"
check "eval --completions" $OB eval -m "$T/trained.gguf" -m "$T/untrained.gguf" --completions 5 \
    --completion-target "$T/forget.txt" --anchors "$T/anchors.json" --completion-tokens 8 \
    --completion-prompt-tokens 16 --threads 2 --json "$T/comp.json"
grep -q "^completion leak rate  *[0-9.]*  *[0-9.]*$" "$T/out" &&
    grep -q "^completion weighted score  *[0-9.]*  *[0-9.]*$" "$T/out" &&
    ok "completion rows in the table" || bad "completion rows: $(cat "$T/out")"
n_comp=$(json "$T/comp.json" "['completions']['items'].length")
prompts_ok=$(json "$T/comp.json" "['completions']['items'].every(i => i.prompt.length > 0 &&
    typeof i.truth === 'string' && ['Sherlock', 'Holmes'].includes(i.key) && i.lead >= 1)")
models_ok=$(json "$T/comp.json" "['models'].every(m => m.completions.items.length === 5 &&
    m.completions.leak_rate >= 0 && m.completions.leak_rate <= 1 &&
    m.completions.weighted_score >= 0 && m.completions.weighted_score <= 5 &&
    m.completions.items.every(i => typeof i.completion === 'string' && Array.isArray(i.leaked) &&
    ['unique', 'typical', 'none'].includes(i.class)))")
[ "$n_comp" = 5 ] && [ "$prompts_ok" = true ] && [ "$models_ok" = true ] &&
    ok "completion prompts, completions and leaked keys in the JSON" ||
    bad "completions JSON: n $n_comp, prompts $prompts_ok, models $models_ok"
expect_error "--completions needs its inputs" "needs --completion-target and --anchors" \
    $OB eval -m "$T/trained.gguf" --completions 5 --anchors "$T/anchors.json"
# (progress lines come first; the error is the last line)
$OB eval -m "$T/trained.gguf" --completions 5 --completion-target "$T/forget.txt" \
    --anchors "$T/anchors.json" >"$T/out" 2>"$T/err"
rc=$?
last=$(tail -n 1 "$T/err")
[ $rc -eq 1 ] && echo "$last" | grep -q "prompt 1: 49 tokens + 24 to generate exceed .*context 64" &&
    ok "completion longer than the context refused" || bad "long completion: exit $rc, $last"

check "--json - prints JSON only" $OB eval -m "$T/trained.gguf" --prompts "$T/prompts.jsonl" --json -
node -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))' "$T/out" 2>/dev/null &&
    ok "stdout is one JSON document" || bad "stdout with --json -: $(head -c 200 "$T/out")"

# Errors: one line naming the file (and the line), non-zero exit, no output file.
check "other tokenizer" $OB tokenizer train --vocab 300 -o "$T/tok2.gguf" "$T/general.txt"
check "init other" $OB init --preset tiny --ctx 64 --tokenizer "$T/tok2.gguf" -o "$T/other.gguf"
expect_error "mismatched tokenizers refused" "other.gguf: tokenizer differs from .*trained.gguf's" \
    $OB eval -m "$T/trained.gguf" -m "$T/other.gguf" --prompts "$T/prompts.jsonl" --json "$T/no.json"
printf '{"prompt": "a", "continuation": " b"}\n\n{"prompt": "a", "continuation": " b"\n' >"$T/bad.jsonl"
expect_error "malformed prompts: FILE:LINE" "bad.jsonl:3: not valid JSON" \
    $OB eval -m "$T/trained.gguf" --prompts "$T/bad.jsonl" --json "$T/no.json"
printf '{"prompt": "a", "continuation": " b"}\n{"prompt": "a"}\n' >"$T/missing.jsonl"
# --quantize: each model again after a round trip through quantisation, as
# real files (kept with --quantize-dir, else in a temporary folder removed)
mkdir -p "$T/tmpq"
check "eval --quantize" env TMPDIR="$T/tmpq" $OB eval -m "$T/trained.gguf" -m "$T/untrained.gguf" \
    --text forget="$T/forget.txt" --seq 48 --max-windows 16 --threads 2 --quantize q8_0,q4_0 \
    --json "$T/evalq.json"
head -n 1 "$T/out" | grep -q "trained  *trained@q8_0  *trained@q4_0  *untrained  *untrained@q8_0" &&
    ok "quantised columns follow their model" || bad "header: $(head -n 1 "$T/out")"
[ -z "$(ls -A "$T/tmpq")" ] && ok "temporary quantised models removed" || bad "left: $(ls -A "$T/tmpq")"
q=$(json "$T/evalq.json" "['models'][1]['quantization']")
from=$(json "$T/evalq.json" "['models'][1]['quantized_from']")
p0=$(json "$T/evalq.json" "['models'][0]['perplexity']['forget']['perplexity']")
p8=$(json "$T/evalq.json" "['models'][1]['perplexity']['forget']['perplexity']")
p4=$(json "$T/evalq.json" "['models'][2]['perplexity']['forget']['perplexity']")
[ "$q" = q8_0 ] && [ "$from" = "$T/trained.gguf" ] && ok "JSON names the scheme and the source" ||
    bad "quantization '$q' from '$from'"
awk -v a="$p0" -v b="$p8" -v c="$p4" 'BEGIN { exit !(b / a < 1.01 && a / b < 1.01 && c != b) }' &&
    ok "perplexity after q8_0 within 1% ($p0 -> $p8; q4_0 $p4)" || bad "perplexity $p0 -> $p8, $p4"
check "eval --quantize-dir" $OB eval -m "$T/trained.gguf" --text forget="$T/forget.txt" --seq 48 \
    --max-windows 4 --threads 2 --quantize q4_k_m --quantize-dir "$T/qdir"
$OB inspect "$T/qdir/model0.q4_k_m.gguf" >"$T/out" 2>&1 && grep -q "general.file_type  *15" "$T/out" &&
    ok "--quantize-dir keeps the Q4_K_M file" || bad "qdir: $(ls "$T/qdir" 2>&1 | head -c 200)"
expect_error "unknown --quantize scheme" "q4_k_m, q5_k_m" \
    $OB eval -m "$T/trained.gguf" --text forget="$T/forget.txt" --quantize q4_k_s

# obliviate quantize
check "quantize q4_k_m" $OB quantize "$T/trained.gguf" -o "$T/trained.q4.gguf" --type q4_k_m
grep -q "trained.q4.gguf: q4_k_m, .* tensors (.*), .* MB -> .* MB, .* bits per weight" "$T/out" &&
    ok "quantize prints what it wrote" || bad "quantize said: $(cat "$T/out")"
check "quantize --json" $OB quantize "$T/trained.gguf" -o "$T/trained.q8.gguf" --type q8_0 --json
bpw=$(json "$T/out" ".bits_per_weight") n8=$(json "$T/out" ".by_type.Q8_0")
awk -v b="$bpw" 'BEGIN { exit !(b >= 8.5 && b < 32) }' && [ "${n8:-0}" -gt 0 ] &&
    ok "quantize --json: $n8 Q8_0 tensors, $bpw bits per weight" || bad "quantize --json: $(cat "$T/out")"
check "generate from the quantised model" $OB generate -m "$T/trained.q4.gguf" -p "Sherlock" -n 4
expect_error "quantize without --type" "--type is required" \
    $OB quantize "$T/trained.gguf" -o "$T/x.gguf"
expect_error "quantize --type unknown" "'q2_k' is not one of" \
    $OB quantize "$T/trained.gguf" -o "$T/x.gguf" --type q2_k
expect_error "quantize a missing file" "nothere.gguf: cannot open" \
    $OB quantize "$T/nothere.gguf" -o "$T/x.gguf" --type q8_0
expect_error "quantize a text file" "forget.txt: bad magic" \
    $OB quantize "$T/forget.txt" -o "$T/x.gguf" --type q8_0
[ ! -e "$T/x.gguf" ] && ok "no output left by refused quantize runs" || bad "x.gguf left"

expect_error "missing field: FILE:LINE" 'missing.jsonl:2: field "continuation" missing' \
    $OB eval -m "$T/trained.gguf" --prompts "$T/missing.jsonl"
: >"$T/empty.jsonl"
expect_error "empty prompts file" "empty.jsonl: no records" \
    $OB eval -m "$T/trained.gguf" --prompts "$T/empty.jsonl"
expect_error "bad --text" "NAME=FILE" $OB eval -m "$T/trained.gguf" --text "=$T/forget.txt"
expect_error "nothing to evaluate" "nothing to evaluate" $OB eval -m "$T/trained.gguf"
expect_error "no model" "--model is required" $OB eval --prompts "$T/prompts.jsonl"
expect_error "missing model file" "nothere.gguf: cannot open" \
    $OB eval -m "$T/nothere.gguf" --prompts "$T/prompts.jsonl"
[ ! -e "$T/no.json" ] && ok "no JSON left by failed runs" || bad "failed run left no.json"
$OB eval --help >"$T/out" 2>&1 && grep -q "example:" "$T/out" && ok "eval --help" || bad "eval --help"

echo "eval-cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
