#!/usr/bin/env bash
# The two-minute tour: serve the shipped fixtures on 127.0.0.1, then
# plan -> apply -> plan (no changes) -> delete a mirrored file -> plan (drift)
# -> apply (repair). No internet needed. Run from anywhere; needs bin/ferry
# (make build).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
ferry="${FERRY:-$repo/bin/ferry}"
[ -x "$ferry" ] || { echo "build ferry first: make build" >&2; exit 1; }

work="$(mktemp -d)"
cleanup() { [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cp "$here/main.ferry.hcl" "$work/"

(cd "$repo" && go build -o "$work/serve" ./examples/internal/serve)
"$work/serve" -dir "$here/upstream" -addr 127.0.0.1:0 >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 50); do grep -q serving "$work/serve.log" && break; sleep 0.1; done
export FERRY_VAR_upstream="$(sed -n 's/.* on //p' "$work/serve.log")"
cd "$work"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
step ferry plan;                 "$ferry" plan
step ferry apply -auto-approve;  "$ferry" apply -auto-approve
step ferry plan -detailed-exitcode; "$ferry" plan -detailed-exitcode
step rm mirror/greeting/1.2.0/greeting-1.2.0.txt; rm mirror/greeting/1.2.0/greeting-1.2.0.txt
step ferry plan -detailed-exitcode; "$ferry" plan -detailed-exitcode || echo "(exit $?: changes present)"
step ferry apply -auto-approve;  "$ferry" apply -auto-approve
step ferry plan -detailed-exitcode; "$ferry" plan -detailed-exitcode
step ferry state list;           "$ferry" state list
