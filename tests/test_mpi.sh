#!/bin/sh
# obliviate under mpirun (make MPI=1), two ranks against one on this machine:
# data-parallel training reaches one rank's weights with the same global batch
# (within a floating-point tolerance: the gradient sums are added in another
# order), labels are byte-identical, eval's perplexity and familiarity equal,
# a checkpoint made by two ranks resumes on one, the unlearning pipeline runs,
# and a rank that fails or dies ends the job with a message naming it.
set -u
OB=${OB:-build-mpi/obliviate}
DIFF=${DIFF:-build-mpi/gguf_diff}
T=$(mktemp -d /tmp/obliviate-mpi-XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib.sh
# One thread per rank: 1 rank x 1 thread and 2 ranks x 1 thread do the same
# arithmetic per row, so the only difference left is the gradient sum order.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
MPI="mpirun --allow-run-as-root --oversubscribe --bind-to none"
run1() { $MPI -np 1 "$@"; }
run2() { $MPI -np 2 "$@"; }
# Tolerance: the weights as one vector within 1e-5 relative (|a - b| / |a|)
# and no weight more than 1e-4 off (they are about 0.02 in size; AdamW turns
# gradient rounding into update differences of up to lr per step where a
# gradient is near zero, so a per-weight relative bound is not meaningful).
# Measured on AMD Zen 5: at most 3.2e-6 with OpenBLAS's AVX-512 kernels, and
# 1.3e-5 (level, relative L2 1e-6) with OPENBLAS_CORETYPE=Haswell, whose GEMM
# blocks a 2-window batch differently from a 4-window one. Another data seed
# is 1e-3 off as a vector (checked below).
TOL=1e-5
TOL_MAX=1e-4
close() {
    name=$1
    r=$("$DIFF" "$2" "$3") || { bad "$name: gguf_diff failed"; return; }
    l2=$(echo "$r" | sed -E 's/.*"rel_l2":([^,]*),.*/\1/')
    mx=$(echo "$r" | sed -E 's/.*"max_abs":([^,]*),.*/\1/')
    if lt "$l2" "$TOL" && lt "$mx" "$TOL_MAX"; then
        ok "$name (relative L2 $l2 < $TOL, max |diff| $mx < $TOL_MAX)"
    else bad "$name: $r"; fi
}

if ! command -v mpirun >/dev/null 2>&1 || [ ! -x "$OB" ] || [ ! -x "$DIFF" ]; then
    echo "SKIP: needs mpirun and make MPI=1 (apt-get install libopenmpi-dev openmpi-bin)" >&2
    echo "mpi: 0 passed, 0 failed"
    exit 0
fi

awk 'BEGIN {
    split("the a one every some that this no each his her their", det, " ")
    split("man woman dog cat ship town river house garden teacher farmer child", noun, " ")
    split("saw found took left watched followed helped called painted visited", verb, " ")
    srand(5)
    for (i = 0; i < 3000; i++)
        printf "%s %s %s %s %s.%s", det[int(rand()*12)+1], noun[int(rand()*12)+1],
            verb[int(rand()*10)+1], det[int(rand()*12)+1], noun[int(rand()*12)+1],
            (i % 6 == 5) ? "\n\n" : " "
    srand(3)
    for (i = 0; i < 400; i++)
        printf "Zorbin sailed to Quentavia and Mrs. Plimby %s the %s. ", verb[int(rand()*10)+1],
            noun[int(rand()*12)+1]
}' >"$T/text.txt"
cat >"$T/prompts.jsonl" <<'P'
{"prompt": "Zorbin sailed to", "continuation": " Quentavia"}
{"prompt": "Mrs.", "continuation": " Plimby"}
{"prompt": "the farmer", "continuation": " saw"}
{"prompt": "and Mrs.", "continuation": " Plimby"}
{"prompt": "The dog", "continuation": " found"}
P
printf '{"Zorbin": ["Peter", "Martin"], "Quentavia": ["Dover", "Bristol"], "Plimby": ["Grant", "Hale"]}\n' >"$T/anchors.json"

check "tokenizer" run1 $OB tokenizer train --vocab 300 -o "$T/tok.gguf" "$T/text.txt"
check "init" run1 $OB init --preset tiny --ctx 64 --tokenizer "$T/tok.gguf" -o "$T/m0.gguf"

# --- training: 5 rows (2 + 3 per rank), 2 micro-batches per step
TR="train -m $T/m0.gguf --steps 30 --batch 5 --accum 2 --seq 32 --lr 3e-3 --warmup 5 --log-every 10"
check "train, 1 rank" run1 $OB $TR -o "$T/one.gguf" "$T/text.txt"
cp "$T/out" "$T/one.json"
check "train, 2 ranks" run2 $OB $TR -o "$T/two.gguf" "$T/text.txt"
cp "$T/out" "$T/two.json"
[ "$(wc -l <"$T/two.json")" -eq 1 ] && ok "2 ranks print one result" || bad "result lines: $(cat "$T/two.json")"
grep -c "train: step 30" "$T/err" | grep -qx 1 && ok "one progress line per step (rank 0)" ||
    bad "progress: $(grep -c 'train: step 30' "$T/err") lines"
grep -q "train: 2 ranks, rows of each batch of 5 split 2..3 per rank" "$T/err" &&
    ok "each rank takes its rows" || bad "split: $(head -3 "$T/err")"
close "2 ranks train to 1 rank's weights" "$T/one.gguf" "$T/two.gguf"
# the tolerance has teeth: another data seed lands far outside it
check "train, 1 rank, seed 2" run1 $OB $TR --seed 2 -o "$T/seed2.gguf" "$T/text.txt"
l2=$("$DIFF" "$T/one.gguf" "$T/seed2.gguf" | sed -E 's/.*"rel_l2":([^,]*),.*/\1/')
lt 1e-3 "$l2" && ok "another seed differs by relative L2 $l2 > 1e-3" || bad "seed 2: $l2"
l1=$(json "$T/one.json" "['loss']") l2=$(json "$T/two.json" "['loss']")
awk -v a="$l1" -v b="$l2" 'BEGIN { d = a - b; exit !(d < 1e-4 && d > -1e-4) }' &&
    ok "same final loss ($l1, $l2)" || bad "loss $l1 vs $l2"
# soft-target fine-tune path is exercised by unlearn below; hard labels here:
check "labels (reference for train --labels)" run1 $OB labels --base "$T/one.gguf" \
    --reinforced "$T/two.gguf" --anchors "$T/anchors.json" --block 32 --batch 2 --alpha 0,2 \
    --soft-k 4 -o "$T/labels1.bin" --target "$T/text.txt"
FT="train -m $T/one.gguf --labels $T/labels1.bin --alpha 2 --steps 12 --batch 4 --lr 1e-3 --val-share 0.1 --log-every 4"
check "train --labels, 1 rank" run1 $OB $FT -o "$T/ft1.gguf"
check "train --labels, 2 ranks" run2 $OB $FT -o "$T/ft2.gguf"
close "labels fine-tune: 2 ranks = 1 rank" "$T/ft1.gguf" "$T/ft2.gguf"

# --- resume: 2 ranks stop at step 10, 1 rank goes on to 20 (constant lr, so
# the schedule does not depend on where the run was cut)
RS="train -m $T/m0.gguf --batch 4 --seq 32 --lr 2e-3 --schedule constant --warmup 0 --log-every 10"
check "2 ranks, 10 steps" run2 $OB $RS --steps 10 -o "$T/cut.gguf" "$T/text.txt"
check "resume on 1 rank" run1 $OB $RS --steps 20 --resume -o "$T/cut.gguf" "$T/text.txt"
grep -q "resuming .* at step 10" "$T/err" && ok "resumed at step 10" || bad "resume: $(tail -3 "$T/err")"
check "1 rank, 20 steps" run1 $OB $RS --steps 20 -o "$T/whole.gguf" "$T/text.txt"
close "2-rank checkpoint resumed on 1 rank = 1 rank throughout" "$T/whole.gguf" "$T/cut.gguf"
check "1 rank, 10 steps" run1 $OB $RS --steps 10 -o "$T/cut1.gguf" "$T/text.txt"
check "resume on 2 ranks" run2 $OB $RS --steps 20 --resume -o "$T/cut1.gguf" "$T/text.txt"
close "1-rank checkpoint resumed on 2 ranks" "$T/whole.gguf" "$T/cut1.gguf"

# --- labels: block groups shared round-robin, rank 0 writes them in order
for b in 1 2; do
    LB="labels --base $T/one.gguf --reinforced $T/two.gguf --anchors $T/anchors.json --block 32 --batch $b --alpha 0,2 --soft-k 4 --suppress 2 --forbid-keys first --target $T/text.txt"
    check "labels --batch $b, 1 rank" run1 $OB $LB -o "$T/l1.bin"
    cp "$T/out" "$T/l1.json"
    check "labels --batch $b, 2 ranks" run2 $OB $LB -o "$T/l2.bin"
    cmp -s "$T/l1.bin" "$T/l2.bin" && ok "labels --batch $b byte-identical ($(wc -c <"$T/l1.bin") bytes)" ||
        bad "labels --batch $b differ"
    [ "$(json "$T/l1.json" "['changed']")" = "$(json "$T/out" "['changed']")" ] &&
        [ "$(json "$T/l1.json" "['labelled']")" = "$(json "$T/out" "['labelled']")" ] &&
        ok "labels --batch $b: same counts" || bad "labels counts: $(cat "$T/l1.json" "$T/out")"
done
check "labels, 3 ranks" $MPI -np 3 $OB $LB -o "$T/l3.bin"
cmp -s "$T/l1.bin" "$T/l3.bin" && ok "labels from 3 ranks byte-identical" || bad "labels, 3 ranks"

# --- eval: perplexity batches and familiarity prompts shared round-robin
EV="eval -m $T/one.gguf -m $T/two.gguf --text t=$T/text.txt --prompts $T/prompts.jsonl --seq 32 --batch 2 --max-windows 40"
check "eval, 1 rank" run1 $OB $EV --json "$T/e1.json"
check "eval, 2 ranks" run2 $OB $EV --json "$T/e2.json"
for f in "['models'][0]['perplexity']['t']['perplexity']" "['models'][1]['perplexity']['t']['perplexity']" \
    "['models'][0]['familiarity']['mean_prob']" "['models'][1]['familiarity']['mean_logp']" \
    "['models'][1]['familiarity']['median_first_rank']"; do
    a=$(json "$T/e1.json" "$f") b=$(json "$T/e2.json" "$f")
    [ -n "$a" ] && [ "$a" = "$b" ] && ok "eval$f equal ($a)" || bad "eval$f: $a vs $b"
done
node -e 'const f = (p) => { const j = JSON.parse(require("fs").readFileSync(p, "utf8"));
    return JSON.stringify(j.models.map((m) => [m.perplexity, m.familiarity])); };
    process.exit(f(process.argv[1]) === f(process.argv[2]) ? 0 : 1)' "$T/e1.json" "$T/e2.json" &&
    ok "eval: every perplexity and familiarity figure identical" || bad "eval JSON differs"

# --- the whole method on 2 ranks (reinforce, labels, fine-tune), rerun skips
UN="unlearn -m $T/one.gguf --target $T/text.txt --anchors $T/anchors.json --block 32 --reinforce-steps 6 --steps 6 --batch 4"
check "unlearn, 2 ranks" run2 $OB $UN --work "$T/work" -o "$T/unlearned.gguf"
[ -s "$T/unlearned.gguf" ] && grep -q "unlearn: finetune: done" "$T/err" && ok "unlearn wrote its model" ||
    bad "unlearn: $(tail -3 "$T/err")"
check "unlearn rerun, 2 ranks" run2 $OB $UN --work "$T/work" -o "$T/unlearned.gguf"
[ "$(grep -c "up to date, skipped" "$T/err")" -eq 4 ] && ok "rerun skips all 4 stages once each" ||
    bad "rerun: $(grep unlearn: "$T/err" | head -8)"

# --- the field's methods (unlearn/objective_run.h): NPO with its KL retain term,
# the reference forward and the top-k targets split by rank, against 1 rank
grep Zorbin -v "$T/text.txt" >"$T/retain.txt"
UO="unlearn --method npo-kl -m $T/one.gguf --target $T/text.txt --retain $T/retain.txt --block 32 --steps 6 --batch 4"
check "npo-kl, 1 rank" $OB $UO --work "$T/wo1" -o "$T/npo1.gguf"
check "npo-kl, 2 ranks" run2 $OB $UO --work "$T/wo2" -o "$T/npo2.gguf"
close "npo-kl: 2 ranks = 1 rank" "$T/npo1.gguf" "$T/npo2.gguf"
# RMU: hidden states of each rank's rows, the means over the whole batch
UR="unlearn --method rmu -m $T/one.gguf --target $T/text.txt --retain $T/retain.txt --block 32 --steps 6 --batch 4 --lr 1e-3"
check "rmu, 1 rank" $OB $UR --work "$T/wr1" -o "$T/rmu1.gguf"
check "rmu, 2 ranks" run2 $OB $UR --work "$T/wr2" -o "$T/rmu2.gguf"
close "rmu: 2 ranks = 1 rank" "$T/rmu1.gguf" "$T/rmu2.gguf"
# level: its default level is rank 0's, measured on the retain text
UL="unlearn --method level -m $T/one.gguf --target $T/text.txt --retain $T/retain.txt --block 32 --steps 6 --batch 4 --lr 1e-3 --delta 1"
check "level, 1 rank" $OB $UL --work "$T/wl1" -o "$T/level1.gguf"
check "level, 2 ranks" run2 $OB $UL --work "$T/wl2" -o "$T/level2.gguf"
close "level: 2 ranks = 1 rank" "$T/level1.gguf" "$T/level2.gguf"
# compare: the methods under MPI, rank 0 alone writing the work folder; the
# same table as one rank
UC="compare -m $T/one.gguf --oracle $T/one.gguf --target $T/text.txt --retain $T/retain.txt --methods npo-kl,task-vector --steps 4 --snapshots 2 --reinforce-steps 4 --batch 4 --block 32 --seq 32 --text t=$T/retain.txt"
check "compare, 1 rank" $OB $UC --work "$T/wc1"
cp "$T/out" "$T/c1.md"
check "compare, 2 ranks" run2 $OB $UC --work "$T/wc2"
awk -F'|' '/^\| [a-z]/ { $4 = ""; print }' "$T/c1.md" >"$T/c1.fig"
awk -F'|' '/^\| [a-z]/ { $4 = ""; print }' "$T/out" >"$T/c2.fig"
[ -s "$T/c1.fig" ] && awk 'NR == FNR { a[FNR] = $0; next } {
    n = split(a[FNR], x, " "); split($0, y, " ")
    for (i = 1; i <= n; i++) if (x[i] != y[i] && (x[i] + 0 == 0 || (x[i] - y[i]) / x[i] > 1e-3 || (y[i] - x[i]) / x[i] > 1e-3)) exit 1
} END { exit NR == 0 }' "$T/c1.fig" "$T/c2.fig" && ok "compare: 2 ranks = 1 rank (figures within 0.1%)" ||
    bad "compare: $(diff "$T/c1.fig" "$T/c2.fig" | head -4)"

# --- failures end the job, naming the rank
cat >"$T/rank1.sh" <<EOF
#!/bin/sh
# rank 1 gets a model that does not exist; rank 0 a good one
[ "\$OMPI_COMM_WORLD_RANK" = 1 ] && m=$T/missing.gguf || m=$T/m0.gguf
exec $OB train -m \$m --steps 5 --batch 2 --seq 32 -o $T/x.gguf $T/text.txt
EOF
timeout 60 $MPI -np 2 sh "$T/rank1.sh" >"$T/out" 2>"$T/err"
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "obliviate train: rank 1 of 2: .*missing.gguf" "$T/err" &&
    ok "a failing rank ends the job with its message (exit $rc)" || bad "rank failure: exit $rc, $(head -5 "$T/err")"
cat >"$T/kill1.sh" <<EOF
#!/bin/sh
# rank 1 is killed (SIGKILL) two seconds into a long run
if [ "\$OMPI_COMM_WORLD_RANK" = 1 ]; then (sleep 2; kill -9 \$\$) & fi
exec $OB train -m $T/m0.gguf --steps 100000 --batch 2 --seq 32 -o $T/y.gguf $T/text.txt
EOF
timeout 60 $MPI -np 2 sh "$T/kill1.sh" >"$T/out" 2>"$T/err"
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -qi "rank 1.*signal 9\|signal 9.*rank 1\|rank 1 .*killed" "$T/err" &&
    ok "a killed rank ends the job (exit $rc): $(grep -i 'signal 9' "$T/err" | head -1 | cut -c1-100)" ||
    bad "killed rank: exit $rc, $(head -c 600 "$T/err")"
timeout 60 $MPI -np 2 $OB train -m "$T/m0.gguf" --steps 1 --batch 1 --seq 32 -o "$T/z.gguf" \
    "$T/text.txt" >"$T/out" 2>"$T/err"
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "rank [01] of 2: batch 1 is smaller than the 2 processes" "$T/err" &&
    ok "a batch smaller than the ranks is refused (exit $rc)" || bad "batch 1: exit $rc, $(head -3 "$T/err")"

echo "mpi: $passed passed, $failed failed"
