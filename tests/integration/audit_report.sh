#!/bin/sh
# `relgate audit report --html`: one self-contained page (no script, no
# external reference) that headless Chromium renders with the transfers
# chart drawn (bar colour present in the screenshot), the denied/failed
# events listed and the verification stamp; a tampered log gives the red
# FAILED stamp naming the record.
set -eu
: "${top_builddir:?}"
R=$top_builddir/relgate
T=$top_builddir/audit/rg-audit-tool
CHROME=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROME" ] || { echo "chromium not installed: skipped"; exit 77; }
W=$(mktemp -d /tmp/rg-report.XXXXXX)
trap 'rm -rf "$W"' EXIT INT TERM
S=$W/state
mkdir -p "$S"
"$T" fill "$S" 700 7                 # 5 contractors over 7 days
"$T" append "$S" 30 'beta-<b>bo</b>' # HTML in a user name, 4 denied among them
"$R" audit --state "$S" report --html "$W/r.html"

fail() { echo "FAIL: $*"; exit 1; }
grep -q '<svg' "$W/r.html" || fail "no inline SVG chart"
grep -q 'Chain verified: 730 records' "$W/r.html" || fail "no OK stamp"
grep -q 'Denied and failed events (4)' "$W/r.html" || fail "denied events not counted"
grep -q 'beta-&lt;b&gt;bo&lt;/b&gt;' "$W/r.html" || fail "user name not escaped"
! grep -q '<b>bo</b>' "$W/r.html" || fail "raw HTML from a record in the page"
! grep -Eiq '<script|<link|<img|<iframe| src=| href=|url\(|@import' "$W/r.html" ||
	fail "page has a script or an external reference"

shot() {
	rm -rf "$W/profile"
	"$CHROME" --headless --no-sandbox --disable-gpu --no-first-run \
	    --disable-background-networking --disable-component-update \
	    --disable-sync --user-data-dir="$W/profile" \
	    --window-size=1000,1000 --screenshot="$2" "file://$1" \
	    >"$W/chrome.log" 2>&1 || { cat "$W/chrome.log"; fail "chromium failed"; }
	[ -s "$2" ] || fail "no screenshot"
}

# Count white pixels, all pixels, and pixels of one colour in a PNG
# (python3 stdlib: zlib + the PNG filters).
pixels() {
	python3 - "$1" "$2" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], 'rb').read()
want = tuple(int(sys.argv[2][i:i + 2], 16) for i in (0, 2, 4))
assert data[:8] == b'\x89PNG\r\n\x1a\n'
pos, idat = 8, b''
while pos < len(data):
    n, typ = struct.unpack('>I4s', data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if typ == b'IHDR':
        w, h, depth, ctype = struct.unpack('>IIBB', body[:10])
    elif typ == b'IDAT':
        idat += body
    pos += 12 + n
assert depth == 8 and ctype in (2, 6), (depth, ctype)
bpp = 3 if ctype == 2 else 4
raw = zlib.decompress(idat)
stride = w * bpp
prev = bytearray(stride)
white = match = 0
for y in range(h):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            line[i] = (line[i] + pr) & 255
    for x in range(0, stride, bpp):
        px = tuple(line[x:x + 3])
        if px == (255, 255, 255): white += 1
        if all(abs(px[k] - want[k]) <= 3 for k in range(3)): match += 1
    prev = line
print(w * h, white, match)
PY
}

shot "$W/r.html" "$W/r.png"
set -- $(pixels "$W/r.png" 1f77b4)
echo "report screenshot: $1 pixels, $2 white, $3 in the first bar colour"
[ $(( $1 - $2 )) -gt $(( $1 / 20 )) ] || fail "screenshot nearly blank"
[ "$3" -gt 2000 ] || fail "chart bars not drawn"

# A tampered log: the page says so, in red, naming the record.
sqlite3 "$S/audit/audit.db" "UPDATE records SET bytes = 1 WHERE seq = 123"
"$R" audit --state "$S" report --html "$W/bad.html"
grep -q 'VERIFICATION FAILED at record 123' "$W/bad.html" || fail "no FAILED stamp"
shot "$W/bad.html" "$W/bad.png"
set -- $(pixels "$W/bad.png" fde2e2)
echo "tampered report: $3 pixels of the red stamp"
[ "$3" -gt 5000 ] || fail "red stamp not drawn"
echo "report checks passed"
