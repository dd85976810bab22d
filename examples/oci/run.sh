#!/usr/bin/env bash
# The OCI tour: a local docker-registry on 127.0.0.1:5001 and the fixture
# server on 127.0.0.1:8732; plan, apply, curl a rewritten uri (a registry blob
# URL) as a buildpack would, plan again (no changes). Needs bin/ferry
# (make build) and docker-registry (make setup).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
ferry="${FERRY:-$repo/bin/ferry}"
[ -x "$ferry" ] || { echo "build ferry first: make build" >&2; exit 1; }
command -v docker-registry >/dev/null || { echo "docker-registry missing: make setup" >&2; exit 1; }

work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$work/oci" "$work/reg"
cp "$here/main.ferry.hcl" "$work/oci/"
cp -r "$here/../buildpack" "$work/buildpack"
cat > "$work/reg/config.yml" <<YAML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/reg/data}, delete: {enabled: true}}
http: {addr: 127.0.0.1:5001, secret: local-example}
YAML

(cd "$repo" && go build -o "$work/serve" ./examples/internal/serve)
docker-registry serve "$work/reg/config.yml" >"$work/reg.log" 2>&1 & pids+=($!)
"$work/serve" -dir "$work/buildpack/upstream" -addr 127.0.0.1:8732 >"$work/upstream.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do curl -sf http://127.0.0.1:5001/v2/ >/dev/null && grep -q serving "$work/upstream.log" && break; sleep 0.1; done
curl -sf http://127.0.0.1:5001/v2/ >/dev/null || { echo "registry did not start:" >&2; cat "$work"/*.log >&2; exit 1; }
grep -q serving "$work/upstream.log" || { echo "fixture server did not start (port 8732 taken?):" >&2; cat "$work/upstream.log" >&2; exit 1; }
cd "$work/oci"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
step ferry plan;                    "$ferry" plan
step ferry apply -auto-approve;     "$ferry" apply -auto-approve
step ferry plan -detailed-exitcode; "$ferry" plan -detailed-exitcode
uri="$(sed -n 's/^    uri = "\(http:\/\/127.0.0.1:5001[^"]*\)"$/\1/p' out/buildpack.toml | head -1)"
want="$(sed -n 's/.*sha256:\([0-9a-f]\{64\}\).*/\1/p' <<<"$uri")"
step curl -fsS "$uri" "| sha256sum"
got="$(curl -fsS "$uri" | sha256sum | cut -d' ' -f1)"
echo "$got"
[ "$got" = "$want" ] || { echo "blob URL served other bytes" >&2; exit 1; }
