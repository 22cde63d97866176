#!/usr/bin/env bash
# Imports a folder of 1000 postmortems into a fresh SQLite database from the command line and
# prints the rate. Usage: benches/import_folder.sh [BINARY] (default: target/release/failforward).
# The folder is the corpus in tests/data/postmortems, copied under new names until it holds 1000.
set -euo pipefail
bin="${1:-target/release/failforward}"
work="$(mktemp -d)"
trap 'if [ -n "${server:-}" ]; then kill "$server" 2>/dev/null || true; fi; rm -rf "$work"' EXIT
data="$work/data"
port=$((20000 + RANDOM % 20000))
"$bin" migrate --data-dir "$data" >/dev/null
echo 'correct horse battery staple 42' | "$bin" admin create-user --data-dir "$data" \
  --email bench@example.org --name Bench --admin --password-stdin >/dev/null
token="$("$bin" admin create-token --data-dir "$data" --email bench@example.org --token-name bench 2>/dev/null | tail -1)"
"$bin" serve --data-dir "$data" --bind "127.0.0.1:$port" >/dev/null 2>&1 &
server=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
curl -sf -X POST "http://127.0.0.1:$port/api/v1/teams" -H "authorization: Bearer $token" \
  -H 'content-type: application/json' -d '{"name":"Bench"}' >/dev/null
kill "$server"; wait "$server" 2>/dev/null || true; server=
mkdir "$work/in"
docs=(tests/data/postmortems/[0-9]*.md tests/data/postmortems/[0-9]*.txt)
for i in $(seq -w 1 1000); do
  src="${docs[$((10#$i % ${#docs[@]}))]}"
  cp "$src" "$work/in/$i-$(basename "$src")"
done
start=$(date +%s.%N)
"$bin" import --data-dir "$data" --as bench@example.org --team bench "$work/in" >/dev/null
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" 'BEGIN { printf "1000 files in %.2f s: %.0f files/s\n", e - s, 1000 / (e - s) }'
