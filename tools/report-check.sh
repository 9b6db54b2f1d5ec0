#!/bin/sh
# make report-check: builds the report of the committed fixture
# (tests/fixtures/report) and opens it in headless Chromium: a screenshot
# (build/report-check/report.png) and the page's DOM after load, in which the
# report's own inline script has recorded uncaught errors and failed
# self-checks in <body data-errors="N">. Passes when N is 0, every chart is
# there and the screenshot is a real PNG. Also checks that the recorder works
# by loading a copy of the page with a deliberate error.
set -u
OB=${OB:-build/obliviate}
F=tests/fixtures/report
O=build/report-check
fail() {
    echo "report-check: $*" >&2
    exit 1
}

browser=""
find_browser() {
    for b in chromium chromium-browser; do
        if command -v "$b" >/dev/null 2>&1; then browser=$b && return 0; fi
    done
    return 1
}
if ! find_browser && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "report-check: installing chromium (apt-get)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null 2>&1 &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1; }
fi
find_browser || fail "needs headless Chromium: run 'apt-get install chromium' as root (Debian), then rerun"

rm -rf "$O"
mkdir -p "$O"
$OB report --eval "$F/eval.json" --log baseline="$F/baseline.log.jsonl" --log tiny="$F/tiny.log.jsonl" \
    -o "$O" >"$O/table.md" 2>"$O/report.err" || fail "obliviate report failed: $(cat "$O/report.err")"
page=$(cd "$O" && pwd)/report.html

# chrome BROWSER-ARGS...: one headless run with a private profile; its chatter
# (D-Bus and GPU warnings on a server) goes to a log.
chrome() {
    timeout 120 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --user-data-dir="$O/profile" "$@" 2>>"$O/chromium.log"
}
chrome --screenshot="$O/report.png" --window-size=1200,3000 "file://$page" >/dev/null ||
    fail "chromium could not take a screenshot (see $O/chromium.log)"
chrome --dump-dom "file://$page" >"$O/dom.html" || fail "chromium --dump-dom failed (see $O/chromium.log)"

body=$(grep -o '<body[^>]*>' "$O/dom.html" | head -n 1)
errors=$(echo "$body" | sed -n 's/.*data-errors="\([^"]*\)".*/\1/p')
want=$(echo "$body" | sed -n 's/.*data-charts="\([^"]*\)".*/\1/p')
[ "$errors" = 0 ] && echo "$body" | grep -q 'data-checked="1"' ||
    fail "the page reports errors: $(echo "$body" | sed -n 's/.*data-error-list="\([^"]*\)".*/\1/p') (data-errors=$errors)"
charts=$(grep -o '<svg class="chart"' "$O/dom.html" | wc -l)
[ "$charts" = "$want" ] && [ "$want" = 10 ] || fail "expected 10 charts, the page has $charts (data-charts=$want)"
for id in familiarity leak-rate perplexity relearn loss-0 loss-1; do
    grep -q "<svg class=\"chart\" id=\"$id\"" "$O/dom.html" || fail "chart $id missing"
done
grep -q '104.43 (+2.4%)' "$O/dom.html" && grep -q '17x lower' "$O/dom.html" ||
    fail "the table lacks the unlearned model's figures"

# PNG: the 8-byte signature, then the IHDR chunk's width and height
magic=$(od -An -tx1 -N8 "$O/report.png" | tr -d ' \n')
[ "$magic" = 89504e470d0a1a0a ] || fail "$O/report.png is not a PNG (starts $magic)"
size=$(wc -c <"$O/report.png")
[ "$size" -gt 50000 ] || fail "$O/report.png is only $size bytes (a blank page?)"
dims=$(od -An -tu1 -j16 -N8 "$O/report.png" |
    awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4 "x" $5 * 16777216 + $6 * 65536 + $7 * 256 + $8 }')
[ "$dims" = 1200x3000 ] || fail "$O/report.png is $dims, not 1200x3000"

# The recorder itself: a deliberate error must show up as data-errors="1".
sed 's|</body>|<script>undefined_function_for_report_check();</script></body>|' "$page" >"$O/broken.html"
chrome --dump-dom "file://$(cd "$O" && pwd)/broken.html" >"$O/broken-dom.html" ||
    fail "chromium --dump-dom failed on the broken copy"
grep -q '<body[^>]*data-errors="1"' "$O/broken-dom.html" ||
    fail "a deliberate error was not recorded: $(grep -o '<body[^>]*>' "$O/broken-dom.html")"

echo "report-check: ok: $browser opened $O/report.html with 0 errors, $charts charts; screenshot $O/report.png ($dims, $size bytes)"
