#!/usr/bin/env bash
# The npm tour: two local Verdaccio registries (upstream on 127.0.0.1:4873,
# internal on 127.0.0.1:4874), the shipped tarballs published upstream with
# the real npm client; plan, apply, plan again (no changes), then a new
# upstream release moves latest, and finally `npm install` from the internal
# registry into an empty project. Needs bin/ferry (make build) and Verdaccio
# (make setup).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
ferry="${FERRY:-$repo/bin/ferry}"
[ -x "$ferry" ] || { echo "build ferry first: make build" >&2; exit 1; }
verdaccio="${FERRY_VERDACCIO:-${FERRY_TESTENV_ROOT:-$HOME/.cache/ferry-testenv}/npm/node_modules/.bin/verdaccio}"
[ -e "$verdaccio" ] || { echo "Verdaccio missing: make setup" >&2; exit 1; }

work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# start NAME PORT: a Verdaccio with local storage, no uplinks, and a user
# whose token is written to $work/NAME.token.
start() {
  local name=$1 port=$2 d="$work/$1"
  mkdir -p "$d/storage"
  cat > "$d/config.yaml" <<YAML
storage: $d/storage
auth: {htpasswd: {file: $d/htpasswd, max_users: 10}}
uplinks: {}
packages:
  '@*/*': {access: \$all, publish: \$authenticated, unpublish: \$authenticated}
  '**': {access: \$all, publish: \$authenticated, unpublish: \$authenticated}
middlewares: {audit: {enabled: false}}
web: {enable: false}
log: {type: stdout, format: json, level: error}
YAML
  node "$verdaccio" --config "$d/config.yaml" --listen "127.0.0.1:$port" >"$d/log" 2>&1 & pids+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/-/ping" >/dev/null && break; sleep 0.1; done
  curl -sf "http://127.0.0.1:$port/-/ping" >/dev/null || { echo "verdaccio $name did not start (port $port taken?):" >&2; cat "$d/log" >&2; exit 1; }
  curl -sf -X PUT -H 'Content-Type: application/json' \
    -d '{"name":"ferry","password":"example-password","email":"ferry@example.invalid"}' \
    "http://127.0.0.1:$port/-/user/org.couchdb.user:ferry" \
    | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).token))' > "$work/$name.token"
  [ -s "$work/$name.token" ] || { echo "could not create a user on $name" >&2; exit 1; }
}
start upstream 4873
start internal 4874

# publish FILE TAG: the real npm client publishes a shipped tarball upstream.
publish() {
  printf '//127.0.0.1:4873/:_authToken=%s\n' "$(cat "$work/upstream.token")" > "$work/upstream.npmrc"
  npm publish "$here/upstream/$1" --tag "$2" --registry http://127.0.0.1:4873/ \
    --userconfig "$work/upstream.npmrc" --cache "$work/npm-cache" --loglevel=error >/dev/null
}
publish greet-1.0.0.tgz latest
publish greet-1.1.0.tgz latest
publish greet-2.0.0-beta.1.tgz next
publish demo-shout-1.0.0.tgz latest

mkdir -p "$work/npm"
cp "$here/main.ferry.hcl" "$work/npm/"
cd "$work/npm"
export FERRY_VAR_internal_token="$(cat "$work/internal.token")"
# Package documents are cached between commands (conditional requests); keep
# this run's cache with the run, not in ~/.cache.
export FERRY_CACHE_DIR="$work/cache"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
step ferry plan;                    "$ferry" plan
step ferry apply -auto-approve;     "$ferry" apply -auto-approve
step ferry plan -detailed-exitcode; "$ferry" plan -detailed-exitcode

step "npm publish greet-1.2.0.tgz (upstream: a new latest)"; publish greet-1.2.0.tgz latest
step ferry plan;                    "$ferry" plan
step ferry apply -auto-approve;     "$ferry" apply -auto-approve

step "npm install greet @demo/shout (from the internal registry)"
mkdir -p "$work/consumer" && cd "$work/consumer"
echo '{"name":"consumer","version":"1.0.0","private":true}' > package.json
echo "registry=http://127.0.0.1:4874/" > .npmrc
npm install --no-audit --no-fund --userconfig .npmrc --cache "$work/npm-cache" --loglevel=error greet @demo/shout
node -e 'const l=require("./package-lock.json").packages; for (const p of ["node_modules/greet","node_modules/@demo/shout"]) console.log(p, l[p].version, l[p].integrity, l[p].resolved)'
node -e 'console.log(require("greet")())'
