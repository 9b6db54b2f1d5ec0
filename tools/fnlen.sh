#!/bin/sh
# Lines of every function in the C files given (clang-formatted: a function
# opens with a line at column 0 ending in "{" and closes with "}" alone):
# "LINES FILE:LINE NAME", longest first.
awk '
    /^[A-Za-z].*\) \{$/ { start = FNR; name = $0; sub(/\(.*/, "", name); n = split(name, w, /[ *]+/); name = w[n]; next }
    /^\}/ && start { printf "%d %s:%d %s\n", FNR - start + 1, FILENAME, start, name; start = 0 }
' "$@" | sort -rn
