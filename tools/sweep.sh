#!/bin/sh
# make sweep: the settings of the field's methods on the demo, for `unlearn
# --method`'s defaults and make compare. From the demo's baseline, every
# method runs COMPARE_STEPS (100) steps at each rate of RATES (obliviate
# compare, one work folder per setting, evaluated on perplexities only);
# RMU at lr 1e-3 over its retain weight and steering length; the task
# vector over its scale. The pick per method: the setting that brings
# forget-set perplexity closest to the oracle's (never beyond it) while
# general held-out perplexity stays within 5% of the baseline's
# (tools/sweep-pick.js). Writes .cache/demo/sweep/sweep.md. A rerun skips
# the training already done.
set -eu
OB=${OB:-build/obliviate}
C=${DEMO_CACHE:-.cache/demo}
D=$C/data
M=$C/models
S=$C/sweep
RATES=${RATES:-1e-5 3e-5 1e-4 1e-3}
RMU=${RMU:-1200:6.5 1200:30 100:6.5 30:6.5 30:30 1:30}
NEGATES=${NEGATES:-0.25 0.5 1 2 5}
METHODS=ga,graddiff,ga-kl,npo,npo-graddiff,npo-kl,simnpo,undial
if [ ! -s "$M/baseline.gguf" ] || [ ! -s "$M/oracle.gguf" ] || [ ! -s "$M/oracle.done" ]; then
    echo "sweep: the demo's models are missing: running make demo first" >&2
    sh tools/demo.sh
fi
mkdir -p "$S"
run() { # WORK METHODS [options]
    w=$1 ms=$2
    shift 2
    echo "sweep: $w" >&2
    $OB compare -m "$M/baseline.gguf" --oracle "$M/oracle.gguf" --target "$D/forget.txt" \
        --retain "$D/general_train.txt" --work "$S/$w" --methods "$ms" \
        --steps "${COMPARE_STEPS:-100}" --snapshots 0 --text general-heldout="$D/general_heldout.txt" \
        --text forget-set="$D/forget.txt" --max-windows 40 "$@" >/dev/null
    picks="$picks $w=$w"
}
picks=""
for lr in $RATES; do
    set --
    for m in $(echo $METHODS | tr , ' '); do set -- "$@" --lr "$m=$lr"; done
    run "lr$lr" "$METHODS" "$@"
done
for s in $RMU; do
    run "rmu-a${s%%:*}-c${s#*:}" rmu --lr rmu=1e-3 --set "rmu.retain-weight=${s%%:*}" \
        --set "rmu.steer=${s#*:}"
done
for a in $NEGATES; do run "negate$a" task-vector --set "task-vector.negate=$a"; done
# shellcheck disable=SC2086 # picks is a list of LABEL=SUBDIR
node tools/sweep-pick.js "$S" $picks | tee "$S/sweep.md"
