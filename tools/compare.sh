#!/bin/sh
# make compare: every unlearning method (obliviate unlearn --method) from the
# demo's baseline with one budget of unlearning steps (100, the sweep's; the
# paper's recipe at lr 5e-5 as in make demo), evaluated with the demo's
# oracle and measures in one eval; the table goes to stdout and
# .cache/demo/compare/compare.md, the report to .cache/demo/compare/report.
# Trains the demo's models first when they are missing (make demo).
#
# REDUCED=1 (CI): a tiny made-up world instead, every method a few steps, so
# that no method can break unnoticed.
set -eu
OB=${OB:-build/obliviate}
if [ "${REDUCED:-0}" = 1 ]; then
    C=${COMPARE_CACHE:-.cache/compare-reduced}
    mkdir -p "$C/work"
    . tests/lib.sh
    story_world "$C"
    printf '{"Zorbin": ["Peter"], "Quentavia": ["Dover"], "Plimby": ["Grant"]}\n' >"$C/anchors.json"
    printf '%s\n' '{"question": "Where did Zorbin sail?", "answer": "Quentavia"}' \
        '{"question": "Who sailed with Zorbin?", "answer": "Mrs. Plimby"}' \
        '{"question": "When did Zorbin sail to Quentavia?", "answer": "in the morning"}' \
        '{"question": "Who sailed to Quentavia?", "answer": "Zorbin"}' >"$C/know.jsonl"
    printf '%s\n' '{"question": "Who watched the ship?", "answer": "The farmer"}' \
        '{"question": "What did the farmer watch?", "answer": "the ship"}' \
        '{"question": "Where was the ship?", "answer": "near the old bridge"}' \
        '{"question": "When did the farmer watch the ship?", "answer": "after the long rain"}' \
        >"$C/know_general.jsonl"
    $OB tokenizer train --vocab 300 -o "$C/tok.gguf" "$C/general_train.txt" "$C/target.txt" >/dev/null
    $OB init --preset tiny --ctx 96 --tokenizer "$C/tok.gguf" -o "$C/init.gguf" >/dev/null
    T="--steps 300 --batch 4 --seq 32 --seed 1"
    $OB train -m "$C/init.gguf" -o "$C/baseline.gguf" $T "$C/general_train.txt" "$C/target.txt" 2>/dev/null >/dev/null
    $OB train -m "$C/init.gguf" -o "$C/oracle.gguf" $T "$C/general_train.txt" 2>/dev/null >/dev/null
    $OB compare -m "$C/baseline.gguf" --oracle "$C/oracle.gguf" --target "$C/target.txt" \
        --retain "$C/general_train.txt" --anchors "$C/anchors.json" --work "$C/work" \
        --steps 8 --snapshots 2 --reinforce-steps 10 --block 32 --batch 4 --seq 32 \
        --text forget="$C/target.txt" --text general="$C/general_heldout.txt" \
        --knowmem "$C/know.jsonl" --knowmem-retain "$C/know_general.jsonl" \
        --knowmem-shots 1 --knowmem-tokens 6 --verbmem 5 --verbmem-prompt-tokens 8 \
        --verbmem-tokens 16 --mia-forget "$C/target.txt" --mia-holdout "$C/general_heldout.txt" \
        --mia-chunk 32 --next-sentence "$C/general_heldout.txt" --next-sentence-n 10 \
        --relearn "$C/target.txt" --relearn-steps 2 "$@" >"$C/work/compare.md"
    cat "$C/work/compare.md"
    exit 0
fi
C=${DEMO_CACHE:-.cache/demo}
D=$C/data
M=$C/models
if [ ! -s "$M/baseline.gguf" ] || [ ! -s "$M/oracle.gguf" ] || [ ! -s "$M/oracle.done" ]; then
    echo "compare: the demo's models are missing: running make demo first" >&2
    sh tools/demo.sh
fi
. tools/demo-measures.sh
mkdir -p "$C/compare"
# shellcheck disable=SC2086 # MEASURES is a list of options
$OB compare -m "$M/baseline.gguf" --oracle "$M/oracle.gguf" --target "$D/forget.txt" \
    --retain "$D/general_train.txt" --anchors data/anchors/sherlock.json --work "$C/compare" \
    --steps "${COMPARE_STEPS:-100}" --lr whp-published=5e-5 $MEASURES "$@" >"$C/compare/compare.md"
cat "$C/compare/compare.md"
