#!/bin/sh
# make bench: obliviate's training throughput (forward + backward + AdamW) next
# to PyTorch's on the same shapes, in the same run, 2 threads, B8 x T256.
# Appends the table to bench/RESULTS.md with the date and the machine.
set -u
OB=build/obliviate
THREADS=${THREADS:-2}
STEPS=${STEPS:-6}
BLAS=/usr/lib/x86_64-linux-gnu/openblas-openmp
field() { sed -E "s/.*\"$1\":([0-9.eE+-]+).*/\1/"; }

torch_ok=0
if [ -x /usr/bin/python3 ] && LD_LIBRARY_PATH=$BLAS /usr/bin/python3 -c "import torch" 2>/dev/null; then
    torch_ok=1
else
    echo "bench: PyTorch yardstick skipped (install it with: apt-get install python3-torch libopenblas0-openmp)" >&2
fi
cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
table="| shape | obliviate tok/s | PyTorch fp32 tok/s | ratio | obliviate GFLOP/s (6NT) | peak RSS MB | 16 B/param + activations MB |
|---|---|---|---|---|---|---|"
while read -r dim layers heads ffn vocab; do
    args="--dim $dim --layers $layers --heads $heads --ffn $ffn --vocab $vocab --batch 8 --seq 256"
    echo "bench: d$dim L$layers H$heads ff$ffn V$vocab" >&2
    ob=$($OB bench $args --steps "$STEPS" --threads "$THREADS" 2>/dev/null) || { echo "bench: obliviate bench failed" >&2; exit 1; }
    ob_tok=$(echo "$ob" | field tok_s)
    pt_tok="-"
    ratio="-"
    if [ $torch_ok = 1 ]; then
        pt=$(LD_LIBRARY_PATH=$BLAS /usr/bin/python3 bench/torch_bench.py $args --threads "$THREADS" \
            --steps "$STEPS" --mode fp32 2>/dev/null) && pt_tok=$(echo "$pt" | field tok_s) &&
            ratio=$(awk -v a="$ob_tok" -v b="$pt_tok" 'BEGIN { printf "%.2fx", a / b }')
    fi
    mem=$(echo "$ob" | awk -v w="$(echo "$ob" | field weights_grads_adam_mb)" \
        -v a="$(echo "$ob" | field activations_mb)" 'BEGIN { printf "%.0f", w + a }')
    table="$table
| d$dim L$layers H$heads ff$ffn V$vocab | $(printf %.0f "$ob_tok") | $(printf %s "$pt_tok" | cut -c1-7) | $ratio | $(printf %.0f "$(echo "$ob" | field gflops)") | $(printf %.0f "$(echo "$ob" | field peak_rss_mb)") | $mem |"
done <<EOF2
288 6 6 768 32000
128 4 4 352 4096
EOF2
report="## $(date -u '+%Y-%m-%d %H:%M UTC') — $cpu, $(nproc) cores, $THREADS threads, B8 x T256, median of $STEPS steps

$table
"
printf '%s\n' "$report"
[ -f bench/RESULTS.md ] || printf '# Benchmark results (appended by make bench)\n\n' >bench/RESULTS.md
printf '%s\n' "$report" >>bench/RESULTS.md
