#!/bin/sh
# The three training-side stages of the method on a Llama-2-7b-shaped model
# (dim 4096, 32 layers, 32 heads, ffn 11008, vocabulary 32000, untied output;
# random BF16 weights, ~13.5 GB) with LoRA adapters, measuring wall time,
# tokens/s and peak RSS (/usr/bin/time -v) of each:
#   1. reinforce   LoRA on the frozen, memory-mapped base (B x T tokens a step)
#   2. labels      baseline = base, reinforced = base + the reinforce adapter
#                  (one mapped copy of the weights serves both)
#   3. fine-tune   train --labels with a fresh LoRA adapter on the base
#                  and (MERGE=1, default) --merge: the adapter folded into a
#                  full BF16 model, written tensor by tensor
# The model and every output go to DIR (not committed; ~27 GB with the merge).
#
# usage: sh tools/big-run.sh [DIR]   (default /tmp/obliviate-7b)
# env:   STEPS (2) SEQ (64) BATCH (1) BLOCKS (2) RANK (16) MERGE (1) OB (build/obliviate)
#        PRECISION (fp32; bf16: the BF16 weights go to the bf16 GEMM as stored)
#        UNLEARN=1 also runs `obliviate unlearn --lora-rank` end to end (1 step per training stage)
#        EVAL=1 also runs `obliviate eval --frozen` on the base with and without the fine-tune's
#        adapter: perplexity, familiarity and a few greedy completions (VerbMem)
# Needs python3 (for the tokenizer's training text) and ~16 GiB of free memory.
set -eu
OB=${OB:-build/obliviate}
D=${1:-/tmp/obliviate-7b}
STEPS=${STEPS:-2} SEQ=${SEQ:-64} BATCH=${BATCH:-1} BLOCKS=${BLOCKS:-2} RANK=${RANK:-16}
MERGE=${MERGE:-1}
PRECISION=${PRECISION:-fp32}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
[ -x "$OB" ] || { echo "big-run: build $OB first (make)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "big-run: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
mkdir -p "$D"

# A 32000-token byte-level BPE (the kind the demo models use), trained on
# made-up words so that it reaches the full Llama-2 vocabulary size.
if [ ! -f "$D/tok32k.gguf" ]; then
    python3 - "$D/words.txt" <<'EOF'
import random, sys
r = random.Random(1)
syl = ["ka", "to", "ri", "men", "sel", "dor", "an", "ew", "qui", "lo", "par", "zu", "vin", "ost",
       "el", "ba", "nir", "gho", "tash", "ul"]
words = set()
while len(words) < 60000:
    words.add("".join(r.choice(syl) for _ in range(r.randint(2, 4))))
words = sorted(words)
with open(sys.argv[1], "w") as f:
    for i in range(40000):
        f.write(" ".join(r.choice(words) for _ in range(12)) + ".\n")
EOF
    $OB tokenizer train --vocab 32000 -o "$D/tok32k.gguf" "$D/words.txt" >/dev/null
fi
if [ ! -f "$D/llama7b.gguf" ]; then
    echo "big-run: writing the 7B-shaped model (random BF16, streamed)" >&2
    /usr/bin/time -v $OB init --stream --untied --dtype bf16 --dim 4096 --layers 32 --heads 32 \
        --ffn 11008 --ctx 4096 --tokenizer "$D/tok32k.gguf" -o "$D/llama7b.gguf" \
        >"$D/init.json" 2>"$D/init.time"
fi
# the target: enough text for BLOCKS blocks of SEQ tokens, and for training windows
head -n $((BLOCKS * SEQ / 20 + 1)) "$D/words.txt" >"$D/target.txt"
free -g >&2

# run NAME COMMAND...: runs under /usr/bin/time -v; JSON on stdout in $D/NAME.json
run() {
    name=$1
    shift
    echo "big-run: $name: $*" >&2
    /usr/bin/time -v "$@" >"$D/$name.json" 2>"$D/$name.err" || {
        tail -n 25 "$D/$name.err" >&2
        exit 1
    }
}
rss() { awk '/Maximum resident set size/ { printf "%.2f", $6 / 1048576 }' "$D/$1.err"; }
wall() { awk '/Elapsed \(wall clock\)/ { n = split($8, p, ":"); s = 0;
    for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$D/$1.err"; }
field() { sed -n "s/.*\"$2\":\([0-9.e+-]*\).*/\1/p" "$D/$1.json"; }

lora="--lora-rank $RANK --precision $PRECISION"
rm -f "$D"/reinf.gguf* "$D"/unl.gguf*
run reinforce $OB reinforce -m "$D/llama7b.gguf" -o "$D/reinf.gguf" $lora --steps "$STEPS" \
    --batch "$BATCH" --seq "$SEQ" --warmup 1 --log-every 1 "$D/target.txt"
run labels $OB labels --base "$D/llama7b.gguf" --reinforced "$D/reinf.gguf" -o "$D/labels.bin" \
    --block "$SEQ" --batch 1 --alpha 5 --soft-k 32 --suppress 0 --precision "$PRECISION" --target "$D/target.txt"
merge=""
[ "$MERGE" = 1 ] && merge="--merge $D/unlearned-merged.gguf"
run finetune $OB train --labels "$D/labels.bin" -m "$D/llama7b.gguf" -o "$D/unl.gguf" $lora \
    --steps "$STEPS" --batch "$BATCH" --warmup 1 --lr 5e-4 --val-share 0 --log-every 1 $merge

if [ "${UNLEARN:-0}" = 1 ]; then
    # the whole pipeline: reinforce (its batch of 8 x 64), anchors, labels, fine-tune, merged output
    printf '{"%s": ["Peter"], "%s": ["Dover"]}\n' "$(head -n 1 "$D/target.txt" | cut -d ' ' -f 1)" \
        "$(sed -n 2p "$D/target.txt" | cut -d ' ' -f 1)" >"$D/anchors.json"
    rm -rf "$D/work"
    run unlearn $OB unlearn -m "$D/llama7b.gguf" --target "$D/target.txt" --anchors "$D/anchors.json" \
        -o "$D/unlearned7b.gguf" --work "$D/work" $lora --reinforce-steps 1 --steps 1 --batch 1 \
        --block "$SEQ" --retain-rows 0
    grep 'stage seconds' "$D/unlearn.err" >&2
    echo "unlearn: $(wall unlearn) s wall, peak RSS $(rss unlearn) GiB" >&2
fi

if [ "${EVAL:-0}" = 1 ]; then
    # prompts: the first words of target lines, continued by the next word
    awk 'NR <= 8 { printf "{\"prompt\": \"%s %s\", \"continuation\": \" %s\"}\n", $1, $2, $3 }' \
        "$D/target.txt" >"$D/prompts.jsonl"
    run eval $OB eval -m "$D/llama7b.gguf" -m "$D/llama7b.gguf" --lora - --lora "$D/unl.gguf" --frozen \
        --text target="$D/target.txt" --seq "$SEQ" --batch 1 --max-windows 2 \
        --prompts "$D/prompts.jsonl" --verbmem 2 --verbmem-target "$D/target.txt" \
        --verbmem-prompt-tokens 16 --verbmem-tokens 8 --precision "$PRECISION" --json "$D/eval.out.json"
    cat "$D/eval.json" >&2
    echo "eval: $(wall eval) s wall, peak RSS $(rss eval) GiB" >&2
    # the base quantised as most people deploy it, and evaluated as a frozen base
    run quantize $OB quantize "$D/llama7b.gguf" -o "$D/llama7b.q4_k_m.gguf" --type q4_k_m
    cat "$D/quantize.json" >&2
    echo "quantize: $(wall quantize) s wall, peak RSS $(rss quantize) GiB" >&2
    run evalq $OB eval -m "$D/llama7b.q4_k_m.gguf" -m "$D/llama7b.q4_k_m.gguf" --lora - \
        --lora "$D/unl.gguf" --frozen --text target="$D/target.txt" --seq "$SEQ" --batch 1 \
        --max-windows 2 --prompts "$D/prompts.jsonl" --precision "$PRECISION"
    cat "$D/evalq.json" >&2
    echo "eval of Q4_K_M: $(wall evalq) s wall, peak RSS $(rss evalq) GiB" >&2
fi

blocks=$(field labels blocks)
printf '\n%-10s %9s %10s %12s %12s\n' stage "wall s" "tokens" "tokens/s" "peak RSS GiB"
for s in reinforce labels finetune; do
    case $s in
    labels) tok=$(field labels positions) tps=$(field labels tokens_per_s) ;;
    *) tok=$((STEPS * BATCH * SEQ)) tps=$(field $s tokens_per_s) ;;
    esac
    printf '%-10s %9s %10s %12.2f %12s\n' $s "$(wall $s)" "$tok" "$tps" "$(rss $s)"
done
[ "$MERGE" = 1 ] && echo "(finetune's wall time includes writing the merged model," \
    "$(field finetune seconds) s of it training)"
echo "(labels: $blocks blocks of $SEQ, two forward passes each; tokens/s counts both passes;" \
    "reinforce/finetune: $STEPS steps of $BATCH x $SEQ; threads: $(nproc); precision $PRECISION)"
