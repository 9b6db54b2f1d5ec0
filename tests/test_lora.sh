#!/bin/sh
# LoRA from the command line: reinforce and the unlearning fine-tune train an
# adapter on a frozen base (BF16 here, memory-mapped); the adapter is a
# llama.cpp LoRA GGUF; --merge writes the full model; labels read the
# reinforced model as base + adapter and agree with the merged model; a
# resumed LoRA run ends with the same adapter bytes; `unlearn --lora-rank`
# runs every stage and publishes a merged model; bad flags are refused.
# (tests/test_lora.c checks the numbers, and llama.cpp applying the adapter.)
set -u
OB=${OB:-build/obliviate}
T=$(mktemp -d /tmp/obliviate-lora-XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib.sh

zorbin_world "$T" 300 60
$OB tokenizer train --vocab 300 -o "$T/tok.gguf" "$T/text.txt" >/dev/null 2>&1
$OB init --preset tiny --ctx 64 --tokenizer "$T/tok.gguf" -o "$T/m0.gguf" >/dev/null 2>&1
$OB train -m "$T/m0.gguf" -o "$T/m.gguf" --steps 60 --batch 4 --seq 48 --lr 3e-3 --log-every 100 \
    --threads 2 "$T/text.txt" >/dev/null 2>&1
check "a BF16 base (init --stream)" $OB init --stream --dtype bf16 --preset tiny --ctx 64 \
    --tokenizer "$T/tok.gguf" -o "$T/bf.gguf"

args="--batch 4 --seq 32 --log-every 100 --threads 2"
check "reinforce --lora-rank --merge" $OB reinforce -m "$T/m.gguf" -o "$T/r.gguf" --lora-rank 4 \
    --steps 20 --lr 1e-2 --merge "$T/rm.gguf" $args "$T/target.txt"
grep -q '"adapter":"[^"]*r.gguf","lora_rank":4,"lora_alpha":8,"lora_targets":"q,k,v,o"' "$T/out" &&
    ok "JSON names the adapter, rank, alpha 2r, targets" || bad "result JSON: $(cat "$T/out")"
$OB inspect "$T/r.gguf" >"$T/insp" 2>&1
grep -q 'general.type *"adapter"' "$T/insp" && grep -q 'adapter.type *"lora"' "$T/insp" &&
    grep -q 'blk.1.attn_output.weight.lora_b *F32 *4 x 64' "$T/insp" &&
    ! grep -q 'ffn_gate' "$T/insp" && ok "adapter GGUF: llama.cpp's keys, names and shapes" ||
    bad "adapter contents: $(head -c 600 "$T/insp")"
$OB inspect "$T/rm.gguf" >"$T/insp" 2>&1
grep -q 'blk.0.attn_q.weight *F32' "$T/insp" && ok "merged model is a full model" ||
    bad "merged: $(head -c 300 "$T/insp")"

# generate and perplexity with the adapter applied = with the merged model
$OB generate -m "$T/m.gguf" --lora "$T/r.gguf" -p "Zorbin sailed" -n 12 --json >"$T/g1" 2>/dev/null
$OB generate -m "$T/rm.gguf" -p "Zorbin sailed" -n 12 --json >"$T/g2" 2>/dev/null
$OB generate -m "$T/m.gguf" -p "Zorbin sailed" -n 12 --json >"$T/g0" 2>/dev/null
t1=$(grep -o '"tokens":\[[0-9,]*\]' "$T/g1") t2=$(grep -o '"tokens":\[[0-9,]*\]' "$T/g2")
[ -n "$t1" ] && [ "$t1" = "$t2" ] && ok "generate --lora continues as the merged model does" ||
    bad "generate --lora: $t1 vs merged $t2"
$OB perplexity -m "$T/m.gguf" --lora "$T/r.gguf" --seq 32 "$T/target.txt" >"$T/p1" 2>/dev/null
$OB perplexity -m "$T/rm.gguf" --seq 32 "$T/target.txt" >"$T/p2" 2>/dev/null
a=$(json "$T/p1" .loss) b=$(json "$T/p2" .loss)
[ -n "$a" ] && awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; exit !(d < 1e-5 && d > -1e-5) }' &&
    ok "perplexity --lora equals the merged model's ($a)" || bad "perplexity --lora $a, merged $b"

# eval with adapters: a model is a frozen base plus its adapter (--lora, one
# per --model, '-' for none); --frozen maps every model in its stored type
check "eval --lora" $OB eval -m "$T/m.gguf" -m "$T/m.gguf" -m "$T/rm.gguf" --lora - --lora "$T/r.gguf" \
    --lora - --text target="$T/target.txt" --seq 32 --relearn "$T/text.txt" --relearn-steps 3 \
    --relearn-batch 2 --threads 2 --json "$T/el.json"
head -n 1 "$T/out" | grep -q "^ *m  *r  *rm *$" && ok "eval names an adapter's column after it" ||
    bad "header: $(head -n 1 "$T/out")"
a=$(json "$T/el.json" "['models'][1]['perplexity']['target']['loss']")
b=$(json "$T/el.json" "['models'][2]['perplexity']['target']['loss']")
l=$(json "$T/el.json" "['models'][1]['lora']") f=$(json "$T/el.json" "['models'][1]['frozen']")
[ -n "$a" ] && awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; exit !(d < 1e-5 && d > -1e-5) }' &&
    [ "$l" = "$T/r.gguf" ] && [ "$f" = true ] &&
    ok "eval: base + adapter = the merged model ($a)" || bad "eval --lora $a ($l, $f), merged $b"
t0=$(json "$T/el.json" "['models'][0]['relearn']['trained']")
t1=$(json "$T/el.json" "['models'][1]['relearn']['trained']")
[ "$t0" = weights ] && [ "$t1" = "own adapter" ] && ok "relearning trains weights, or the adapter" ||
    bad "relearn trained: $t0, $t1"
check "eval --frozen" $OB eval -m "$T/m.gguf" --frozen --text target="$T/target.txt" --seq 32 \
    --relearn "$T/text.txt" --relearn-steps 3 --relearn-batch 2 --threads 2 --json "$T/ef.json"
c=$(json "$T/ef.json" "['models'][0]['perplexity']['target']['loss']")
d=$(json "$T/el.json" "['models'][0]['perplexity']['target']['loss']")
r=$(json "$T/ef.json" "['models'][0]['relearn']['trained']")
r1=$(json "$T/ef.json" "['models'][0]['relearn']['perplexity']['target']['loss']")
[ "$c" = "$d" ] && [ "$r" = "fresh adapter" ] && [ -n "$r1" ] && [ "$r1" != "$c" ] &&
    ok "--frozen: the same figures from the mapped F32 base; relearning a fresh adapter ($c -> $r1)" ||
    bad "--frozen: $c vs $d, relearn $r ($r1)"
expect_error "eval --lora per model" "one per --model" \
    $OB eval -m "$T/m.gguf" -m "$T/rm.gguf" --lora "$T/r.gguf" --text target="$T/target.txt"
expect_error "eval --lora missing adapter" "nothere.gguf" \
    $OB eval -m "$T/m.gguf" --lora "$T/nothere.gguf" --text target="$T/target.txt"

check "LoRA on a BF16 base, every matrix" $OB train -m "$T/bf.gguf" -o "$T/bfa.gguf" --lora-rank 2 \
    --lora-alpha 3 --lora-targets q,k,v,o,gate,up,down --steps 3 --merge "$T/bfm.gguf" $args \
    "$T/text.txt"
$OB inspect "$T/bfm.gguf" >"$T/insp" 2>&1
grep -q 'blk.0.ffn_down.weight *BF16' "$T/insp" && grep -q 'blk.0.attn_norm.weight *F32' "$T/insp" &&
    ok "merged BF16 base stays BF16" || bad "merged types: $(grep blk.0 "$T/insp" | head -4)"

# labels: base + adapter vs the merged model
lab="--target $T/target.txt --block 32 --alpha 5 --anchors $T/anchors.json"
check "labels, reinforced = base + adapter" $OB labels --base "$T/m.gguf" --reinforced "$T/r.gguf" \
    -o "$T/la.bin" $lab
cp "$T/out" "$T/la.json"
check "labels, reinforced = merged model" $OB labels --base "$T/m.gguf" --reinforced "$T/rm.gguf" \
    -o "$T/lm.bin" $lab
a=$(json "$T/la.json" .changed) b=$(json "$T/out" .changed)
[ -n "$a" ] && [ "$a" = "$b" ] && ok "same share of changed labels ($a)" ||
    bad "changed labels differ: adapter $a, merged $b"

check "fine-tune on labels --lora-rank" $OB train --labels "$T/la.bin" -m "$T/m.gguf" -o "$T/u.gguf" \
    --lora-rank 4 --steps 6 --batch 4 --merge "$T/um.gguf" --log-every 100 --threads 2
[ -f "$T/u.gguf.ckpt.gguf" ] && [ -f "$T/um.gguf" ] && grep -q '"best_val_loss"' "$T/out" &&
    ok "best adapter, checkpoint and merged model written" || bad "fine-tune outputs: $(cat "$T/out")"

# resume: 4 + 4 steps equal 8 (constant schedule, so the total does not matter)
rargs="--lora-rank 4 --schedule constant --warmup 0 --lr 5e-3 $args"
$OB train -m "$T/m.gguf" -o "$T/x.gguf" --steps 8 $rargs "$T/text.txt" >/dev/null 2>&1
$OB train -m "$T/m.gguf" -o "$T/y.gguf" --steps 4 $rargs "$T/text.txt" >/dev/null 2>&1
check "resume a LoRA run" $OB train -m "$T/m.gguf" -o "$T/y.gguf" --steps 8 --resume $rargs \
    "$T/text.txt"
cmp -s "$T/x.gguf" "$T/y.gguf" && cmp -s "$T/x.gguf.state" "$T/y.gguf.state" &&
    ok "resumed adapter and state equal the uninterrupted run's" || bad "resumed adapter differs"
expect_error "resume with another rank" "another rank" $OB train -m "$T/m.gguf" -o "$T/y.gguf" \
    --steps 9 --resume --lora-rank 8 $args "$T/text.txt"

check "unlearn --lora-rank" $OB unlearn -m "$T/m.gguf" --target "$T/target.txt" \
    --anchors "$T/anchors.json" -o "$T/un.gguf" --work "$T/work" --lora-rank 4 \
    --reinforce-steps 6 --steps 6 --batch 2 --block 32
$OB inspect "$T/work/reinforced.gguf" 2>&1 | grep -q 'adapter.type' &&
    $OB inspect "$T/un.gguf" 2>&1 | grep -q 'blk.0.attn_q.weight *F32' &&
    ok "work folder holds adapters, --out the merged model" || bad "unlearn outputs"
$OB generate -m "$T/un.gguf" -p "Zorbin sailed" -n 8 >/dev/null 2>&1 && ok "merged model generates" ||
    bad "generate on the merged model"

expect_error "bad target name" "lora-targets" $OB train -m "$T/m.gguf" --lora-rank 4 \
    --lora-targets q,x "$T/text.txt"
expect_error "--merge without LoRA" "--merge goes with --lora-rank" $OB train -m "$T/m.gguf" \
    --merge "$T/z.gguf" "$T/text.txt"
expect_error "rank too large" "rank 999 must be 1..256" $OB train -m "$T/m.gguf" --lora-rank 999 \
    "$T/text.txt"
expect_error "an adapter is not a base model" "missing" $OB train -m "$T/r.gguf" --lora-rank 4 \
    "$T/text.txt"

echo "lora cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
