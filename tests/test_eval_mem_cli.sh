#!/bin/sh
# `obliviate eval` memorisation and membership metrics end to end: VerbMem,
# KnowMem and PrivLeak on a tiny model trained here on a "forget" text and on
# its untrained initialisation (designated the oracle); keys and ranges of
# the JSON, the table rows, reproducible excerpts, and one-line errors.
set -u
OB=${OB:-build/obliviate}
T=$(mktemp -d /tmp/obliviate-eval-mem-XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib.sh

i=0
while [ $i -lt 200 ]; do
    echo "Sherlock Holmes lit his pipe by the fire and looked out at the rain number $((i % 5))."
    echo "Doctor Watson wrote the whole story down in his notebook that night."
    i=$((i + 1))
done >"$T/forget.txt"
i=0
while [ $i -lt 60 ]; do
    echo "Ships sail across the sea and birds sing in the morning near the hills $((i % 3))."
    i=$((i + 1))
done >"$T/holdout.txt"
cat >"$T/questions.jsonl" <<'Q'
{"question": "Who lit his pipe?", "answer": "Sherlock Holmes", "story": 1}
{"question": "Who wrote the story down?", "answer": "Doctor Watson"}

{"question": "What did he look out at?", "answer": "the rain"}
{"question": "Where was the story written?", "answer": "in his notebook"}
Q

check "tokenizer train" $OB tokenizer train --vocab 400 -o "$T/tok.gguf" "$T/forget.txt" "$T/holdout.txt"
check "init" $OB init --preset tiny --ctx 64 --tokenizer "$T/tok.gguf" -o "$T/untrained.gguf"
check "train" $OB train -m "$T/untrained.gguf" -o "$T/trained.gguf" --steps 120 --batch 4 --seq 48 \
    --lr 3e-3 --warmup 10 --log-every 1000 --threads 2 "$T/forget.txt"

check "eval memorisation" $OB eval -m "$T/trained.gguf" -m "$T/untrained.gguf" --threads 2 \
    --verbmem 4 --verbmem-target "$T/forget.txt" --verbmem-prompt-tokens 16 --verbmem-tokens 24 \
    --knowmem "$T/questions.jsonl" --knowmem-shots 1 --knowmem-tokens 8 \
    --mia-forget "$T/forget.txt" --mia-holdout "$T/holdout.txt" --mia-chunk 32 --mia-max-chunks 20 \
    --oracle untrained --json "$T/mem.json"
cp "$T/out" "$T/table.txt"
missing=""
for row in "verbmem ROUGE-L F1" "knowmem ROUGE-L F1" "knowmem ROUGE-L recall" \
    "membership AUC (Min-40%)" "privleak vs oracle (%)"; do
    grep -q "^$row  *[-+0-9.]*  *[-+0-9.]*$" "$T/table.txt" || missing="$missing '$row'"
done
[ -z "$missing" ] && ok "table rows" || bad "table lacks$missing: $(cat "$T/table.txt")"
grep -q "eval: trained: verbmem ROUGE-L F1" "$T/err" && grep -q "eval: untrained: membership AUC" "$T/err" &&
    ok "progress on stderr" || bad "progress: $(head -c 400 "$T/err")"

keys=$(json "$T/mem.json" "['models'].every(m => ['verbmem', 'knowmem', 'privleak'].every(k => k in m))
    && ['verbmem', 'knowmem', 'mia'].every(k => k in JSON.parse(require('fs').readFileSync('$T/mem.json')))")
[ "$keys" = true ] && ok "JSON keys per model and settings" || bad "JSON keys: $keys"
verb_ok=$(json "$T/mem.json" "['models'].every(m => m.verbmem.n === 4 && m.verbmem.items.length === 4 &&
    m.verbmem.rougeL_f1 >= 0 && m.verbmem.rougeL_f1 <= 1 && m.verbmem.tokens === 24 &&
    m.verbmem.capped_by_context === false &&
    m.verbmem.items.every(i => i.f1 >= 0 && i.f1 <= 1 && typeof i.continuation === 'string'))")
know_ok=$(json "$T/mem.json" "['models'].every(m => m.knowmem.n === 4 && m.knowmem.items.length === 4 &&
    m.knowmem.rougeL_f1 >= 0 && m.knowmem.rougeL_f1 <= 1 && m.knowmem.rougeL_recall >= 0 &&
    m.knowmem.rougeL_recall <= 1 && m.knowmem.items.every(i => typeof i.question === 'string' &&
    typeof i.answer === 'string' && typeof i.generated === 'string' && i.f1 >= 0 && i.f1 <= 1 &&
    i.recall >= 0 && i.recall <= 1))")
mia_ok=$(json "$T/mem.json" "['models'].every(m => m.privleak.auc >= 0 && m.privleak.auc <= 1 &&
    m.privleak.n_forget === 20 && m.privleak.n_holdout === 20)")
[ "$verb_ok" = true ] && [ "$know_ok" = true ] && [ "$mia_ok" = true ] &&
    ok "per-model verbmem, knowmem and privleak in range" ||
    bad "per-model JSON: verbmem $verb_ok, knowmem $know_ok, privleak $mia_ok"
v_n=$(json "$T/mem.json" "['verbmem']['items'].length")
k_lines=$(json "$T/mem.json" "['knowmem']['items'].map(i => i.line)")
k_story=$(json "$T/mem.json" "['knowmem']['items'][0]['story']")
oracle=$(json "$T/mem.json" "['mia']['oracle']")
mia_k=$(json "$T/mem.json" "['mia']['k']")
[ "$v_n" = 4 ] && [ "$k_lines" = "1,2,4,5" ] && [ "$k_story" = 1 ] && [ "$oracle" = untrained ] &&
    [ "$mia_k" = 0.4 ] && ok "settings: excerpts, question lines and fields, oracle, k" ||
    bad "settings: excerpts $v_n, lines $k_lines, story $k_story, oracle $oracle, k $mia_k"
auc_t=$(json "$T/mem.json" "['models'][0]['privleak']['auc']")
auc_u=$(json "$T/mem.json" "['models'][1]['privleak']['auc']")
pl_t=$(json "$T/mem.json" "['models'][0]['privleak']['privleak']")
pl_u=$(json "$T/mem.json" "['models'][1]['privleak']['privleak']")
want=$(awk -v a="$auc_t" -v o="$auc_u" 'BEGIN { printf "%.6f", (a - o) / o * 100 }')
got=$(awk -v p="$pl_t" 'BEGIN { printf "%.6f", p }')
[ "$got" = "$want" ] && [ "$pl_u" = 0 ] && ok "privleak = (AUC - AUC_oracle) / AUC_oracle x 100 ($pl_t)" ||
    bad "privleak: trained $pl_t (want $want), oracle $pl_u; AUC $auc_t, $auc_u"
f_t=$(json "$T/mem.json" "['models'][0]['verbmem']['rougeL_f1']")
f_u=$(json "$T/mem.json" "['models'][1]['verbmem']['rougeL_f1']")
lt "$f_u" "$f_t" && lt 0.5 "$auc_t" && ok "trained recites more (F1 $f_t vs $f_u), AUC $auc_t > 0.5" ||
    bad "trained F1 $f_t, untrained $f_u; AUC $auc_t"

# Same seed and lengths, same excerpts (whatever the models).
check "eval again" $OB eval -m "$T/untrained.gguf" --threads 2 --verbmem 4 \
    --verbmem-target "$T/forget.txt" --verbmem-prompt-tokens 16 --verbmem-tokens 24 --json "$T/again.json"
p1=$(json "$T/mem.json" "['verbmem']['items'].map(i => i.position)")
p2=$(json "$T/again.json" "['verbmem']['items'].map(i => i.position)")
[ "$p1" = "$p2" ] && ok "reproducible excerpts ($p1)" || bad "positions $p1 / $p2"
# The default 1 + 32 + 128 tokens are capped to the context 64; no oracle among the models.
check "eval default lengths" $OB eval -m "$T/trained.gguf" --threads 2 --verbmem 2 \
    --verbmem-target "$T/forget.txt" --mia-forget "$T/forget.txt" --mia-holdout "$T/holdout.txt" \
    --mia-chunk 32 --mia-max-chunks 10 --json "$T/capped.json"
tokens=$(json "$T/capped.json" "['models'][0]['verbmem']['tokens']")
cap=$(json "$T/capped.json" "['models'][0]['verbmem']['capped_by_context']")
noracle=$(json "$T/capped.json" "['models'][0]['privleak']['privleak']")
[ "$tokens" = 31 ] && [ "$cap" = true ] && [ "$noracle" = null ] &&
    ok "128 tokens capped to 31 by the context; no oracle: privleak null" ||
    bad "tokens $tokens, capped $cap, privleak $noracle"
grep -q "privleak vs oracle" "$T/out" && bad "privleak row without an oracle" ||
    ok "no privleak row without an oracle"

# Errors: one line, naming the file and line where there is one.
printf '{"question": "Q?", "answer": "A"}\n{"question": "Q?"}\n' >"$T/bad.jsonl"
expect_error "malformed questions: FILE:LINE" 'bad.jsonl:2: field "answer" missing' \
    $OB eval -m "$T/trained.gguf" --knowmem "$T/bad.jsonl"
expect_error "--mia-forget alone" "needs both --mia-forget and --mia-holdout" \
    $OB eval -m "$T/trained.gguf" --mia-forget "$T/forget.txt"
expect_error "unknown oracle" "--oracle nobody is none of the models" \
    $OB eval -m "$T/trained.gguf" --mia-forget "$T/forget.txt" --mia-holdout "$T/holdout.txt" \
    --mia-chunk 32 --oracle nobody
expect_error "--verbmem without a text" "--verbmem needs --verbmem-target" \
    $OB eval -m "$T/trained.gguf" --verbmem 3
$OB eval -m "$T/trained.gguf" --mia-forget "$T/forget.txt" --mia-holdout "$T/holdout.txt" \
    >"$T/out" 2>"$T/err"
rc=$?
last=$(tail -n 1 "$T/err")
[ $rc -eq 1 ] && echo "$last" | grep -q "chunks of 128 tokens exceed the model's context 64" &&
    ok "chunk longer than the context refused" || bad "long chunk: exit $rc, $last"

echo "eval-mem-cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
