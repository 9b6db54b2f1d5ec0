#!/bin/sh
# make bench: in one run, on the same shapes (B8 x T256, THREADS threads):
# - the machine: CPU, extensions, BLAS core (and the one OpenBLAS chose on
#   its own), bf16 backend, and its measured fp32 / vdpbf16ps / AMX peaks;
# - training (forward + backward + AdamW) tokens/s, obliviate fp32 and bf16
#   against PyTorch fp32 and bf16 autocast, with obliviate's GFLOP/s (6NT)
#   as shares of the chip's peak and of the sgemm and bf16 GEMM rates measured
#   in the same bench call;
# - peak RSS of fp32 training against 16 bytes/param + the activations
#   (README, "Performance");
# - batched forward (prompt processing, 512 tokens) of obliviate against
#   llama.cpp (node-llama-cpp) on the same GGUF file.
# Appends the tables to bench/RESULTS.md with the date and the machine.
# STEPS (default 6) sets the timed steps; REPEAT (default 1) runs every
# measurement that many times, alternating the implementations, and reports
# medians (on a shared machine the load moves between runs). The yardsticks
# are skipped, saying so, when PyTorch or node-llama-cpp is missing.
# PyTorch runs twice per mode: as installed, and with glibc's malloc told
# to keep freed memory (KEEP below). PyTorch frees and re-allocates its
# activations every step; glibc returns big blocks to the kernel, and the
# page faults of taking them back cost PyTorch 2.3-5.5x on this VM. A PyTorch
# user who knows this (or uses jemalloc/tcmalloc) gets the second figure.
set -u
OB=build/obliviate
THREADS=${THREADS:-2}
STEPS=${STEPS:-6}
REPEAT=${REPEAT:-1}
PP=${PP:-512}
BLAS=/usr/lib/x86_64-linux-gnu/openblas-openmp
# OpenMP waits as users get it (libgomp: spin briefly, then sleep) unless set;
# OMP_WAIT_POLICY=passive make bench is kinder to a machine shared with other work.
field() { sed -E "s/.*\"$1\":([0-9.eE+-]+).*/\1/"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b <= 0) print "-"; else printf "%.2fx", a / b }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) print "-"; else printf "%.0f%%", 100 * a / b }'; }
med() { tr ' ' '\n' | grep -v '^-*$' | sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }'; }
num() { awk -v a="$1" 'BEGIN { if (a == "-" || a < 0) print "-"; else printf "%.0f", a }'; }

torch_ok=0
if [ -x /usr/bin/python3 ] && LD_LIBRARY_PATH=$BLAS /usr/bin/python3 -c "import torch" 2>/dev/null; then
    torch_ok=1
else
    echo "bench: PyTorch yardstick skipped (install it with: apt-get install python3-torch libopenblas0-openmp)" >&2
fi
lcpp_ok=0
if sh tools/llamacpp/setup.sh >/dev/null 2>&1 && command -v node >/dev/null 2>&1; then
    lcpp_ok=1
else
    echo "bench: llama.cpp yardstick skipped (sh tools/llamacpp/setup.sh installs it)" >&2
fi
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
KEEP="MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736"
torch() { # args mode [keep] -> tok/s or -
    [ $torch_ok = 1 ] || { echo -; return; }
    env ${3:+$KEEP} LD_LIBRARY_PATH=$BLAS /usr/bin/python3 bench/torch_bench.py $1 \
        --threads "$THREADS" --steps "$STEPS" --mode "$2" 2>/dev/null | field tok_s || echo -
}

sfield() { sed -E "s/.*\"$1\":\"([^\"]*)\".*/\1/"; }
# The machine, once: CPU, extensions, BLAS core, bf16 backend, peaks.
mach=$($OB bench --machine --threads "$THREADS" 2>/dev/null) || { echo "bench: obliviate bench --machine failed" >&2; exit 1; }
cpu="$(echo "$mach" | sfield cpu) ($(echo "$mach" | sfield cpu_vendor) family $(echo "$mach" | field cpu_family) model $(echo "$mach" | field cpu_model))"
core=$(echo "$mach" | sfield blas_core) core0=$(echo "$mach" | sfield blas_core_detected)
pf32=$(echo "$mach" | field peak_fp32_gflops) pbf=$(echo "$mach" | field peak_bf16_gflops) pamx=$(echo "$mach" | field peak_amx_gflops)
bfb=$(echo "$mach" | sfield bf16_backend) impl=$(echo "$mach" | sfield onednn_impl)
case "$bfb:$impl" in onednn:*amx*) bfpk=$pamx bfunit="AMX" ;; *) bfpk=$pbf bfunit="vdpbf16ps" ;; esac
torchnote=""
[ "$core" != "$core0" ] && torchnote=" OpenBLAS chose $core0 on its own here and obliviate switched it to $core; PyTorch links the same OpenBLAS and runs $core0's kernels (its figures are slow for that reason)."
train="| shape | obliviate fp32 tok/s | PyTorch fp32 as installed | PyTorch fp32, memory kept | ratio | obliviate bf16 tok/s | PyTorch bf16 as installed | PyTorch bf16, memory kept | ratio | obliviate bf16 / fp32 |
|---|---|---|---|---|---|---|---|---|---|"
chip="| shape | fp32 peak | sgemm (head) | fp32 training GFLOP/s: of peak, of sgemm | bf16 peak ($bfunit) | bf16 GEMM (head) | bf16 training GFLOP/s: of bf16 peak, of fp32 peak, of bf16 GEMM | peak RSS MB (fp32) | 16 B/param + activations MB | rest MB |
|---|---|---|---|---|---|---|---|---|---|"
fwd="| shape | tokens | obliviate fp32 tok/s | obliviate bf16 tok/s | llama.cpp tok/s ($THREADS threads) | llama.cpp tok/s (1 thread) | fp32 ratio | bf16 ratio |
|---|---|---|---|---|---|---|---|"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
while read -r dim layers heads ffn vocab; do
    shape="--dim $dim --layers $layers --heads $heads --ffn $ffn --vocab $vocab"
    name="d$dim L$layers H$heads ff$ffn V$vocab"
    echo "bench: $name: training" >&2
    T32= P32= K32= T16= P16= K16= SG= BG= G32= G16=
    r=0
    while [ $r -lt "$REPEAT" ]; do
        r=$((r + 1))
        o32=$($OB bench $shape --batch 8 --seq 256 --steps "$STEPS" --threads "$THREADS" --precision fp32 2>/dev/null) ||
            { echo "bench: obliviate bench failed" >&2; exit 1; }
        P32="$P32 $(torch "$shape --batch 8 --seq 256" fp32)"
        K32="$K32 $(torch "$shape --batch 8 --seq 256" fp32 keep)"
        o16=$($OB bench $shape --batch 8 --seq 256 --steps "$STEPS" --threads "$THREADS" --precision bf16 2>/dev/null) ||
            { echo "bench: obliviate bench failed" >&2; exit 1; }
        P16="$P16 $(torch "$shape --batch 8 --seq 256" bf16)"
        K16="$K16 $(torch "$shape --batch 8 --seq 256" bf16 keep)"
        T32="$T32 $(echo "$o32" | field tok_s)" SG="$SG $(echo "$o32" | field sgemm_gflops)"
        G32="$G32 $(echo "$o32" | field gflops)"
        case "$o16" in *'"precision":"bf16"'*) # else a CPU without bf16
            T16="$T16 $(echo "$o16" | field tok_s)" G16="$G16 $(echo "$o16" | field gflops)"
            BG="$BG $(echo "$o16" | field bf16_gemm_gflops)" ;;
        esac
    done
    t32=$(echo $T32 | med) p32=$(echo $P32 | med) t16=$(echo $T16 | med) p16=$(echo $P16 | med)
    k32=$(echo $K32 | med) k16=$(echo $K16 | med)
    sg=$(echo $SG | med) bg=$(echo $BG | med) g32=$(echo $G32 | med) g16=$(echo $G16 | med)
    rss=$(echo "$o32" | field peak_rss_mb)
    mem=$(awk -v w="$(echo "$o32" | field weights_grads_adam_mb)" -v a="$(echo "$o32" | field activations_mb)" \
        'BEGIN { printf "%.0f", w + a }')
    train="$train
| $name | $(num "$t32") | $(num "$p32") | $(num "$k32") | $(ratio "$t32" "$k32") | $(num "$t16") | $(num "$p16") | $(num "$k16") | $(ratio "$t16" "$k16") | $(ratio "$t16" "$t32") |"
    chip="$chip
| $name | $(num "$pf32") | $(num "$sg") | $(num "$g32"): $(pct "$g32" "$pf32"), $(pct "$g32" "$sg") | $(num "$bfpk") | $(num "$bg") | $(num "$g16"): $(pct "$g16" "$bfpk"), $(pct "$g16" "$pf32"), $(pct "$g16" "$bg") | $(num "$rss") | $mem | $(awk -v r="$rss" -v m="$mem" 'BEGIN { printf "%+.0f", r - m }') |"

    echo "bench: $name: forward, $PP tokens" >&2
    gguf=$tmp/d$dim.gguf
    $OB bench $shape --seq "$PP" --save "$gguf" 2>/dev/null || { echo "bench: cannot write $gguf" >&2; exit 1; }
    F32= F16= LC= LC1=
    r=0
    while [ $r -lt "$REPEAT" ]; do
        r=$((r + 1))
        F32="$F32 $($OB bench --forward -m "$gguf" --batch 1 --seq "$PP" --steps 5 --threads "$THREADS" \
            --precision fp32 2>/dev/null | field tok_s)"
        if [ $lcpp_ok = 1 ]; then
            LC="$LC $(node tools/llamacpp/bench_pp.mjs "$gguf" --vocab "$vocab" --tokens "$PP" \
                --threads "$THREADS" 2>/dev/null | field tok_s)"
            # llama.cpp's threads spin at every barrier; on a loaded machine one thread can beat two
            LC1="$LC1 $(node tools/llamacpp/bench_pp.mjs "$gguf" --vocab "$vocab" --tokens "$PP" \
                --threads 1 2>/dev/null | field tok_s)"
        fi
        f16=$($OB bench --forward -m "$gguf" --batch 1 --seq "$PP" --steps 5 --threads "$THREADS" \
            --precision bf16 2>/dev/null)
        case "$f16" in *'"precision":"bf16"'*) F16="$F16 $(echo "$f16" | field tok_s)" ;; esac
    done
    f32=$(echo $F32 | med) f16=$(echo $F16 | med) lc=$(echo $LC | med) lc1=$(echo $LC1 | med)
    best=$(awk -v a="$lc" -v b="$lc1" 'BEGIN { if (a == "-") a = 0; if (b == "-") b = 0;
        m = a > b ? a : b; if (m > 0) print m; else print "-" }')
    fwd="$fwd
| $name | $PP | $(num "$f32") | $(num "$f16") | $(num "$lc") | $(num "$lc1") | $(ratio "$f32" "$best") | $(ratio "$f16" "$best") |"
done <<EOF2
288 6 6 768 32000
128 4 4 352 4096
EOF2
report="## $(date -u '+%Y-%m-%d %H:%M UTC') — $cpu, $(nproc) cores, $THREADS threads, median of $STEPS steps, medians of $REPEAT alternating runs, OMP_WAIT_POLICY ${OMP_WAIT_POLICY:-unset (libgomp default)}, load average $load0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end

Machine: $(echo "$mach" | sfield isa). BLAS: $(echo "$mach" | sfield blas), core $core (OpenBLAS chose $core0). bf16 GEMM
backend: $bfb${impl:+ (oneDNN: $impl)}, $(echo "$mach" | sfield bf16_backend_reason) (own $(num "$(echo "$mach" | field bf16_own_gflops)"),
oneDNN $(num "$(echo "$mach" | field bf16_onednn_gflops)") GFLOP/s). Measured peaks, $THREADS threads (register-only loops): fp32 FMA
$(num "$pf32"), vdpbf16ps $(num "$pbf"), AMX $(num "$pamx") GFLOP/s.

Training, B8 x T256; ratios against PyTorch in its best plain setup, memory kept (run with $KEEP, so
that glibc keeps the memory PyTorch frees every step instead of returning it to the kernel and faulting it
back).$torchnote

$train

The same runs against the chip: GFLOP/s counted as 6 x parameters x tokens, as shares of the measured
peak of the unit the products run on, and of the output head's products measured alone in the same call.

$chip

Batched forward of one $PP-token sequence on the same GGUF file (obliviate computes the logits of every
position, as label generation needs; llama.cpp those of the last one, as its prompt processing does;
ratios against the faster of llama.cpp's two figures):

$fwd
"
printf '%s\n' "$report"
[ -f bench/RESULTS.md ] || printf '# Benchmark results (appended by make bench)\n\n' >bench/RESULTS.md
printf '%s\n' "$report" >>bench/RESULTS.md
