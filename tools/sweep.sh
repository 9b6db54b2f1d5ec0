#!/bin/sh
# make sweep: the learning rate of each of the field's methods (and the task
# vector's scale) on the demo, for `unlearn --method`'s defaults and make
# compare. Every method runs COMPARE_STEPS (150) steps at each rate of RATES
# from the demo's baseline (obliviate compare, one work folder per rate,
# evaluated on perplexities only); the pick per method is the rate that
# brings forget-set perplexity closest to the oracle's (never beyond it)
# while general held-out perplexity stays within 5% of the baseline's.
# Writes .cache/demo/sweep/sweep.md.
set -eu
OB=${OB:-build/obliviate}
C=${DEMO_CACHE:-.cache/demo}
D=$C/data
M=$C/models
S=$C/sweep
RATES=${RATES:-1e-5 3e-5 1e-4 3e-4 1e-3}
METHODS=ga,graddiff,ga-kl,npo,npo-graddiff,npo-kl,simnpo,undial,rmu
if [ ! -s "$M/baseline.gguf" ] || [ ! -s "$M/oracle.gguf" ] || [ ! -s "$M/oracle.done" ]; then
    echo "sweep: the demo's models are missing: running make demo first" >&2
    sh tools/demo.sh
fi
mkdir -p "$S"
P="--text general-heldout=$D/general_heldout.txt --text forget-set=$D/forget.txt --max-windows 40"
for lr in $RATES; do
    set --
    for m in $(echo $METHODS | tr , ' '); do set -- "$@" --lr "$m=$lr"; done
    echo "sweep: lr $lr" >&2
    # shellcheck disable=SC2086 # P is a list of options
    $OB compare -m "$M/baseline.gguf" --oracle "$M/oracle.gguf" --target "$D/forget.txt" \
        --retain "$D/general_train.txt" --work "$S/lr$lr" --methods "$METHODS" \
        --steps "${COMPARE_STEPS:-150}" --snapshots 0 $P "$@" >/dev/null
done
for a in ${NEGATES:-1 2 5}; do
    echo "sweep: task-vector scale $a" >&2
    # shellcheck disable=SC2086
    $OB compare -m "$M/baseline.gguf" --oracle "$M/oracle.gguf" --target "$D/forget.txt" \
        --work "$S/negate$a" --methods task-vector --negate "$a" $P >/dev/null
done
node tools/sweep-pick.js "$S" $RATES -- ${NEGATES:-1 2 5} | tee "$S/sweep.md"
