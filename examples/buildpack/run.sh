#!/usr/bin/env bash
# The buildpack tour: serve the fixture dependencies on 127.0.0.1:8732, plan
# (see the uri diff), apply, fetch one rewritten uri with plain curl as a
# buildpack would, and plan again (no changes). No internet needed. Needs
# bin/ferry (make build).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
ferry="${FERRY:-$repo/bin/ferry}"
[ -x "$ferry" ] || { echo "build ferry first: make build" >&2; exit 1; }

work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
cp -r "$here/main.ferry.hcl" "$here/buildpacks" "$work/"
mkdir -p "$work/mirror"

(cd "$repo" && go build -o "$work/serve" ./examples/internal/serve)
"$work/serve" -dir "$here/upstream" -addr 127.0.0.1:8732 >"$work/upstream.log" 2>&1 & pids+=($!)
"$work/serve" -dir "$work/mirror" -addr 127.0.0.1:8733 >"$work/mirror.log" 2>&1 & pids+=($!)
for _ in $(seq 50); do grep -q serving "$work/upstream.log" && grep -q serving "$work/mirror.log" && break; sleep 0.1; done
if ! grep -q serving "$work/upstream.log" || ! grep -q serving "$work/mirror.log"; then
  echo "could not serve on 127.0.0.1:8732 and :8733 (ports taken?):" >&2; cat "$work"/*.log >&2; exit 1
fi
cd "$work"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
step ferry plan;                    "$ferry" plan
step ferry apply -auto-approve;     "$ferry" apply -auto-approve
step ferry plan -detailed-exitcode; "$ferry" plan -detailed-exitcode
uri="$(sed -n 's/^    uri = "\(http:\/\/127.0.0.1:8733[^"]*\)"$/\1/p' out/node-engine/buildpack.toml | head -1)"
step curl -fsS "$uri" "| sha256sum"; curl -fsS "$uri" | sha256sum
step ls out/bindings/node-engine;   ls out/bindings/node-engine
step diff buildpacks/node-engine/buildpack.toml out/node-engine/buildpack.toml
diff buildpacks/node-engine/buildpack.toml out/node-engine/buildpack.toml || true
