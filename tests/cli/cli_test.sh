#!/usr/bin/env bash
# The command line end to end on a real file: demo, verify, an independent recomputation of the
# chain, tampering with the sqlite3 shell, replay, export → import round trip.
set -euo pipefail
gridloop=$1
source_dir=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$gridloop" --help | grep -q "gridloop demo" || fail "--help lists the commands"
for c in serve import export verify backup snapshot replay generate demo; do
    "$gridloop" "$c" --help | grep -q "usage: gridloop $c" || fail "$c --help"
done
"$gridloop" verify >/dev/null 2>&1 && fail "verify without --db must fail"
"$gridloop" frobnicate >/dev/null 2>&1 && fail "unknown command must fail"

"$gridloop" demo --no-serve --db "$work/town.db" > "$work/demo.txt" || fail "demo"
grep -q "built the sample town" "$work/demo.txt" || fail "demo output"
"$gridloop" verify --db "$work/town.db" | grep -q "^ok: " || fail "verify a good log"

"$gridloop" export --db "$work/town.db" > "$work/town.ndjson"
python3 "$source_dir/scripts/verify_chain.py" "$work/town.ndjson" | grep -q "^ok: " || fail "python recomputation"
events=$(wc -l < "$work/town.ndjson")

# Export → import into a fresh file gives the same log, byte for byte.
"$gridloop" import --db "$work/copy.db" "$work/town.ndjson" >/dev/null || fail "import of an export"
"$gridloop" export --db "$work/copy.db" | cmp -s - "$work/town.ndjson" || fail "re-export differs"
# Importing it again changes nothing.
"$gridloop" import --db "$work/copy.db" "$work/town.ndjson" | grep -q "imported 0 events" || fail "re-import must be a no-op"

# An online backup verifies and exports the same log; it never overwrites.
"$gridloop" backup --db "$work/town.db" --out "$work/backup.db" | grep -q "verified" || fail "backup"
"$gridloop" export --db "$work/backup.db" | cmp -s - "$work/town.ndjson" || fail "the backup exports differently"
"$gridloop" backup --db "$work/town.db" --out "$work/backup.db" >/dev/null 2>&1 && fail "backup must not overwrite"

# A snapshot of the model lands beside the log; the next one starts from it, folding nothing.
"$gridloop" snapshot --db "$work/town.db" | grep -q "saved the model at position $events to $work/town.db.snapshots/" || fail "snapshot"
"$gridloop" snapshot --db "$work/town.db" 2>&1 | grep -q "not used" && fail "a fresh snapshot must be usable"
ls "$work/town.db.snapshots/"*.snap >/dev/null || fail "snapshot file"
half=$((events / 2))
"$gridloop" snapshot --db "$work/town.db" --as-of "$half" --keep 0 | grep -q "saved the model at position $half" || fail "snapshot --as-of"
"$gridloop" snapshot --db "$work/town.db" --as-of "$half" | grep -q "already saved" || fail "snapshot --as-of twice"
[ "$(ls "$work/town.db.snapshots/" | wc -l)" = 2 ] || fail "--keep 0 keeps every snapshot"
"$gridloop" snapshot --db "$work/town.db" --as-of $((events + 1)) >/dev/null 2>&1 && fail "snapshot past the head must fail"
"$gridloop" snapshot --db "$work/missing.db" >/dev/null 2>&1 && fail "snapshot of a missing log must fail"
[ -e "$work/missing.db" ] && fail "snapshot must not create a log"

# Replay at an earlier position prints the tree as it stood then.
"$gridloop" replay --db "$work/town.db" --as-of "$half" | grep -q "as of position $half" || fail "replay --as-of"
"$gridloop" replay --db "$work/town.db" --as-of $((events + 1)) >/dev/null 2>&1 && fail "replay past the head must fail"

# Tampering: an attacker with the sqlite3 shell drops the guard and changes one byte.
cp "$work/town.db" "$work/tampered.db"
sqlite3 "$work/town.db" "UPDATE events SET actor='x' WHERE position=5" 2>/dev/null && fail "UPDATE must be refused"
sqlite3 "$work/tampered.db" "$(sqlite3 "$work/tampered.db" "SELECT 'DROP TRIGGER ' || name || ';' FROM sqlite_master WHERE type='trigger'")
  UPDATE events SET data = replace(data, '\"source\":\"patrol\"', '\"source\":\"camerx\"') WHERE position = (SELECT min(position) FROM events WHERE data LIKE '%\"source\":\"patrol\"%');"
bad=$(sqlite3 "$work/tampered.db" "SELECT min(position) FROM events WHERE data LIKE '%camerx%'")
set +e
out=$("$gridloop" verify --db "$work/tampered.db")
code=$?
set -e
[ "$code" -eq 1 ] || fail "verify of a tampered log must exit 1 (got $code)"
echo "$out" | grep -q "BROKEN at position $bad" || fail "verify must name position $bad: $out"
"$gridloop" export --db "$work/tampered.db" | python3 "$source_dir/scripts/verify_chain.py" >/dev/null 2>&1 && fail "python must see the tampering"

echo "cli: $events events; tampered position $bad caught"
