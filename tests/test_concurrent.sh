#!/bin/sh
# Three runs at once on one output, ROUNDS times (20 by default), one of
# them killed with SIGKILL at a random moment: `train` (seeds 1, 2, 1 to one
# -o) and `unlearn` (seeds 1, 2, 1 to one --work and -o). The lock lets one
# writer at a time in; the others are refused with the holder's pid. After
# each round the output is absent or byte-identical to the solo run of the
# seed of the last run that exited 0 (so no run exits 0 with another run's
# result), and a rerun of seed 1 after the round ends byte-identical to its
# solo run, whatever the kill left behind, with no temporary file of the
# killed run left (lock files of a killed run may stay: the kernel released
# them, and the next run on that output takes them).
set -u
OB=${OB:-build/obliviate}
ROUNDS=${ROUNDS:-20}
SEED=${STRESS_SEED:-$$}
T=$(mktemp -d /tmp/obliviate-conc-XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib.sh

zorbin_world "$T" 200 60
check "tokenizer" $OB tokenizer train --vocab 300 -o "$T/tok.gguf" "$T/text.txt"
check "init" $OB init --preset tiny --ctx 32 --tokenizer "$T/tok.gguf" -o "$T/m0.gguf"

targs="--steps 600 --batch 2 --seq 32 --log-every 1000 --threads 1"
uargs="--target $T/target.txt --anchors $T/anchors.json --block 32 --reinforce-steps 200 \
--steps 200 --batch 4 --soft-k 8 --threads 1"
now_ms() { date +%s%3N; }
t0=$(now_ms)
check "train solo, seed 1" $OB train -m "$T/m0.gguf" -o "$T/t1.gguf" --seed 1 $targs "$T/text.txt"
train_ms=$(($(now_ms) - t0))
check "train solo, seed 2" $OB train -m "$T/m0.gguf" -o "$T/t2.gguf" --seed 2 $targs "$T/text.txt"
t0=$(now_ms)
check "unlearn solo, seed 1" $OB unlearn -m "$T/m0.gguf" --work "$T/w1" -o "$T/u1.gguf" --seed 1 $uargs
unlearn_ms=$(($(now_ms) - t0))
check "unlearn solo, seed 2" $OB unlearn -m "$T/m0.gguf" --work "$T/w2" -o "$T/u2.gguf" --seed 2 $uargs
echo "concurrent: $ROUNDS rounds, STRESS_SEED=$SEED, solo train ${train_ms} ms, unlearn ${unlearn_ms} ms" >&2

# draw I N: the I-th draw of one generator, an integer in [0, N)
draw() { awk -v s="$SEED" -v i="$1" -v n="$2" 'BEGIN { srand(s); for (j = 0; j <= i; j++) r = rand(); printf "%d", r * n }'; }

# round KIND R OUT ARGS...: three runs of `$OB KIND ARGS --seed S` (S = 1, 2,
# 1), started together; one, drawn, is killed after a drawn delay. Each run
# leaves "<rc> <end time in ns>" in $T/rc.K. Sets $last to the seed of the
# last run that exited 0 (0 when none did) and $vseed to the victim's.
round() {
    kind=$1 i=$2
    shift 2
    victim=$(draw $((3 * i)) 3)
    ms=$(draw $((3 * i + 1)) "$3")
    shift
    rm -f "$T"/rc.*
    for k in 0 1 2; do
        s=$((k % 2 + 1))
        sh -c '"$@" >/dev/null 2>"'"$T/err.$k"'"; echo "$? $(date +%s%N)" >"'"$T/rc.$k"'"' \
            sh $OB $kind "$@" --seed $s &
        eval "pid$k=\$!"
    done
    sleep "$(awk -v m="$ms" 'BEGIN { printf "%.3f", m / 1000 }')"
    eval "vp=\$pid$victim"
    vseed=$((victim % 2 + 1))
    # the victim's obliviate process (the child of its sh), killed outright
    for c in $(pgrep -P "$vp"); do kill -9 "$c" 2>/dev/null; done
    wait
    last=0 last_t=0
    for k in 0 1 2; do
        [ -n "${VERBOSE:-}" ] && echo "  $kind round $r run $k (seed $((k % 2 + 1))$([ $k = $victim ] && echo ", killed")): $(cat "$T/rc.$k" 2>/dev/null) $(tail -n 1 "$T/err.$k")" >&2
        [ -s "$T/rc.$k" ] || continue
        set -- $(cat "$T/rc.$k")
        if [ "$1" = 0 ] && [ "$2" -gt "$last_t" ]; then last=$((k % 2 + 1)) last_t=$2; fi
        if [ "$1" != 0 ] && [ "$1" != 137 ] && ! grep -q "in use by another obliviate run (pid [0-9]*" "$T/err.$k"; then
            bad "$kind round $r: run $k exited $1: $(tail -n 1 "$T/err.$k")"
        fi
    done
}

# judge KIND OUTPUT SOLO: after round $r, OUTPUT is SOLO$last.gguf, the solo
# run of the seed whose run exited 0 last; when none did, it is absent or
# the killed run's whole output (killed after its last write).
judge() {
    if [ "$last" = 0 ]; then
        if [ ! -e "$2" ] || cmp -s "$2" "$3$vseed.gguf"; then
            ok "$1 round $r: no run exited 0, and no other run's output"
        else
            bad "$1 round $r: an output that is no run's"
        fi
    elif cmp -s "$2" "$3$last.gguf"; then
        ok "$1 round $r: the output is seed $last's, whose run exited 0 last"
    else
        bad "$1 round $r: the output is not the solo run of seed $last"
    fi
}

r=0
while [ $r -lt "$ROUNDS" ]; do
    rm -f "$T"/c.gguf*
    round train $r "$train_ms" -m "$T/m0.gguf" -o "$T/c.gguf" $targs "$T/text.txt"
    judge train "$T/c.gguf" "$T/t"
    r=$((r + 1))
done

r=0
while [ $r -lt "$ROUNDS" ]; do
    round unlearn $((r + ROUNDS)) "$unlearn_ms" -m "$T/m0.gguf" --work "$T/cw" -o "$T/cu.gguf" $uargs
    judge unlearn "$T/cu.gguf" "$T/u"
    if $OB unlearn -m "$T/m0.gguf" --work "$T/cw" -o "$T/cu.gguf" --seed 1 $uargs >/dev/null 2>"$T/err" &&
        cmp -s "$T/cu.gguf" "$T/u1.gguf"; then
        ok "unlearn round $r: seed 1 rerun afterwards equals its solo run"
        left=$(ls "$T/cw" "$T" | grep -E '\.tmp\.[0-9]+$')
        [ -z "$left" ] || bad "unlearn round $r: left behind after the rerun: $left"
    else
        bad "unlearn round $r: seed 1 rerun: $(tail -n 1 "$T/err")"
    fi
    rm -rf "$T/cw" "$T"/cu.gguf*
    r=$((r + 1))
done
echo "concurrent: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
