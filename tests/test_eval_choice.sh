#!/bin/sh
# `obliviate eval` general ability and relearning end to end: a tiny model
# trained here and its untrained initialisation on the multiple-choice
# fixtures of every layout, next-sentence items cut from a small text, and a
# short relearning fine-tune whose familiarity must differ from before; then
# one-line errors for malformed inputs.
set -u
OB=${OB:-build/obliviate}
T=$(mktemp -d /tmp/obliviate-eval-choice-XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib.sh
F=tests/fixtures/choice

i=0
while [ $i -lt 200 ]; do
    echo "Sherlock Holmes lit his pipe by the fire."
    echo "The cat sat on the mat and looked at the rain number $((i % 5))."
    i=$((i + 1))
done >"$T/forget.txt"
i=0
while [ $i -lt 40 ]; do
    echo "Ships sail across the sea to harbour number $i. Birds sing in the morning near hill $i."
    echo "The baker opens his shop at dawn on day $i! Farmers carry bread home along road $i."
    i=$((i + 1))
done >"$T/general.txt"
cat >"$T/prompts.jsonl" <<'P'
{"prompt": "Sherlock", "continuation": " Holmes"}
{"prompt": "Sherlock Holmes lit his", "continuation": " pipe"}
P

check "tokenizer train" $OB tokenizer train --vocab 400 -o "$T/tok.gguf" "$T/forget.txt" "$T/general.txt"
check "init" $OB init --preset tiny --ctx 64 --tokenizer "$T/tok.gguf" -o "$T/untrained.gguf"
check "train" $OB train -m "$T/untrained.gguf" -o "$T/trained.gguf" --steps 80 --batch 4 --seq 48 \
    --lr 3e-3 --warmup 10 --log-every 1000 --threads 2 "$T/general.txt"

mkdir "$T/tmp"
check "eval --choice --next-sentence --relearn" env TMPDIR="$T/tmp" $OB eval \
    -m "$T/trained.gguf" -m "$T/untrained.gguf" --prompts "$T/prompts.jsonl" \
    --text general="$T/general.txt" --seq 48 --max-windows 8 \
    --choice hs="$F/hellaswag.jsonl" --choice "$F/piqa.jsonl" --choice "$F/arc.jsonl" \
    --choice "$F/boolq.jsonl" --choice wino="$F/winogrande.jsonl" \
    --next-sentence "$T/general.txt" --next-sentence-n 12 --next-sentence-choices 3 \
    --relearn "$T/forget.txt" --relearn-steps 15 --relearn-lr 3e-3 --relearn-batch 2 \
    --threads 2 --json "$T/eval.json"
cp "$T/out" "$T/table.txt"
missing=""
for row in "choice hs acc" "choice hs acc_norm" "choice piqa acc" "choice wino acc_norm" \
    "next-sentence acc" "next-sentence acc_norm" "relearned familiarity (mean P)" \
    "relearned mean log-prob" "relearned perplexity general"; do
    grep -q "^$row  " "$T/table.txt" || missing="$missing '$row'"
done
[ -z "$missing" ] && ok "table rows" || bad "table lacks$missing: $(cat "$T/table.txt")"

keys=$(json "$T/eval.json" "['models'].map(m => Object.keys(m.choice).join('/') + ':' +
    Object.values(m.choice).map(c => c.layout).join('/'))")
want="hs/piqa/arc/boolq/wino:hellaswag/piqa/arc/boolq/winogrande"
[ "$keys" = "$want,$want" ] && ok "choice sets per model, with layouts" || bad "choice keys: $keys"
ranges=$(json "$T/eval.json" "['models'].every(m => Object.values(m.choice).concat([m.next_sentence])
    .every(c => c.n > 0 && c.acc >= 0 && c.acc <= 1 && c.acc_norm >= 0 && c.acc_norm <= 1 &&
    c.truncated >= 0))")
ns=$(json "$T/eval.json" "['models'].map(m => m.next_sentence.n)")
hs_n=$(json "$T/eval.json" "['models'][1]['choice']['hs']['n']")
[ "$ranges" = true ] && [ "$ns" = "12,12" ] && [ "$hs_n" = 6 ] &&
    ok "n, acc and acc_norm in range" || bad "ranges $ranges, next-sentence n $ns, hellaswag n $hs_n"
settings=$(node -e 'const x = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log([Object.keys(x.choice).length, x.choice.wino.layout, x.next_sentence.choices,
        x.next_sentence.n, x.next_sentence.seed, x.relearn.steps, x.relearn.batch,
        x.relearn.seq].join(" "))' "$T/eval.json")
[ "$settings" = "5 winogrande 3 12 1 15 2 48" ] && ok "top-level settings" ||
    bad "settings: $settings"

before=$(json "$T/eval.json" "['models'][1]['familiarity']['mean_prob']")
after=$(json "$T/eval.json" "['models'][1]['relearn']['familiarity']['mean_prob']")
steps=$(json "$T/eval.json" "['models'][1]['relearn']['steps']")
ppl=$(json "$T/eval.json" "['models'][1]['relearn']['perplexity']['general']['perplexity']")
lt "$before" "$after" && lt 0 "$ppl" && [ "$steps" = 15 ] &&
    ok "relearning raises familiarity: $before -> $after" ||
    bad "relearn: familiarity $before -> $after, steps $steps, perplexity $ppl"
[ -z "$(ls -A "$T/tmp")" ] && ok "relearning leaves no files" || bad "left: $(ls "$T/tmp")"

# The same seed gives the same items, so the same figures.
check "eval again" $OB eval -m "$T/trained.gguf" --next-sentence "$T/general.txt" \
    --next-sentence-n 12 --next-sentence-choices 3 --threads 2 --json "$T/again.json"
a=$(json "$T/eval.json" "['models'][0]['next_sentence']['acc_norm']")
b=$(json "$T/again.json" "['models'][0]['next_sentence']['acc_norm']")
[ "$a" = "$b" ] && ok "next-sentence items reproducible" || bad "acc_norm $a then $b"

# Errors: one line naming the file and the line.
printf '{"goal": "g", "sol1": "a", "sol2": "b", "label": 0}\n\n{"goal": "g", "sol1": "a", "sol2": "b", "label": 5}\n' >"$T/bad.jsonl"
expect_error "malformed choice line: FILE:LINE" 'bad.jsonl:3: "label" must be 0 or 1' \
    $OB eval -m "$T/trained.gguf" --choice "$T/bad.jsonl"
printf '{"what": 1}\n' >"$T/odd.jsonl"
expect_error "unknown layout" "odd.jsonl:1: cannot tell the layout" \
    $OB eval -m "$T/trained.gguf" --choice "$T/odd.jsonl"
expect_error "forced layout" 'piqa.jsonl:1: field "passage" missing' \
    $OB eval -m "$T/trained.gguf" --choice "$F/piqa.jsonl" --choice-layout boolq
expect_error "bad --choice-layout" "choice-layout must be" \
    $OB eval -m "$T/trained.gguf" --choice "$F/piqa.jsonl" --choice-layout mmlu
expect_error "--relearn needs a measure" "relearn needs --prompts" \
    $OB eval -m "$T/trained.gguf" --choice "$F/piqa.jsonl" --relearn "$T/forget.txt"
printf 'One short line. Another one here.\n' >"$T/tiny.txt"
expect_error "too little text" "tiny.txt: only 0 sentences" \
    $OB eval -m "$T/trained.gguf" --next-sentence "$T/tiny.txt"
expect_error "bad choices count" "next-sentence-choices must be 2..16" \
    $OB eval -m "$T/trained.gguf" --next-sentence "$T/general.txt" --next-sentence-choices 1

echo "eval-choice: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
