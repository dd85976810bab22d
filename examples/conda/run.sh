#!/usr/bin/env bash
# The conda tour: serve upstream/ (a small noarch channel) on 127.0.0.1,
# then plan -> apply -> plan (no changes) into a channel directory, serve
# that directory on another 127.0.0.1 port, and have rattler (conda's Rust
# solver, through its node bindings) solve an environment from it. Fails
# unless rattler picks exactly the selected packages, at the mirror's URLs,
# and cannot solve for an excluded one. Needs bin/ferry (make build) and
# rattler (make setup, .ci/install-test-servers).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
ferry="${FERRY:-$repo/bin/ferry}"
[ -x "$ferry" ] || { echo "build ferry first: make build" >&2; exit 1; }
mods="${FERRY_RATTLER_MODULES:-${FERRY_TESTENV_ROOT:-$HOME/.cache/ferry-testenv}/rattler/node_modules}"
[ -e "$mods/@conda-org/rattler/package.json" ] || { echo "rattler missing: make setup" >&2; exit 1; }
command -v node >/dev/null || { echo "node missing" >&2; exit 1; }

work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

(cd "$repo" && go build -o "$work/serve" ./examples/internal/serve)
# serve NAME DIR: serves DIR on a free 127.0.0.1 port; prints its URL.
serve() {
  "$work/serve" -dir "$2" -addr 127.0.0.1:0 >"$work/$1.log" 2>&1 & pids+=($!)
  for _ in $(seq 50); do grep -q serving "$work/$1.log" && break; sleep 0.1; done
  grep -q serving "$work/$1.log" || { echo "serve $1 did not start:" >&2; cat "$work/$1.log" >&2; exit 1; }
}
serve upstream "$here/upstream"
export FERRY_VAR_channel="$(sed -n 's/.* on //p' "$work/upstream.log")"

mkdir -p "$work/conda"
cp "$here/main.ferry.hcl" "$work/conda/"
cd "$work/conda"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
step ferry plan;                    "$ferry" plan
step ferry apply -auto-approve;     "$ferry" apply -auto-approve
step ferry plan -detailed-exitcode; "$ferry" plan -detailed-exitcode
step find mirror -type f;           (cd mirror && find . -type f | sort)

mkdir -p "$work/conda/mirror"
serve mirror "$work/conda/mirror"
mirror="$(sed -n 's/.* on //p' "$work/mirror.log")"

# solve SPEC...: rattler's simpleSolve against the mirror (noarch only),
# one "name version build url" line per package, sorted.
solve() {
  NODE_PATH="$mods" CHANNEL="$mirror" node -e '
const r = require("@conda-org/rattler");
(async () => {
  try {
    const sol = await r.simpleSolve(process.argv.slice(1), [process.env.CHANNEL], ["noarch"], undefined);
    for (const p of sol) console.log(p.packageName, p.version, p.build, p.url);
  } catch (e) { console.error("ERR", e); process.exit(1); }
})();' "$@" | sort
}

step "rattler solve clobber-1 clobber-directory-upgrade test-package (from the mirror)"
got="$(solve clobber-1 clobber-directory-upgrade test-package)"
echo "$got"
want="clobber-1 0.2.0 h4616a5c_0 $mirror/noarch/clobber-1-0.2.0-h4616a5c_0.tar.bz2
clobber-directory-upgrade 0.2.0 h4616a5c_0 $mirror/noarch/clobber-directory-upgrade-0.2.0-h4616a5c_0.conda
test-package 0.1 0 $mirror/noarch/test-package-0.1-0.tar.bz2"
[ "$got" = "$want" ] || { printf 'rattler solved something else; want:\n%s\n' "$want" >&2; exit 1; }

step "rattler solve clobber-2 (excluded: must fail)"
# unsolvable SPEC: rattler must fail to solve SPEC, and for want of
# candidates (not, say, for a channel it could not read).
unsolvable() {
  local out
  if out="$(solve "$1" 2>&1)"; then
    printf 'rattler solved for %s, which the mirror must not hold:\n%s\n' "$1" "$out" >&2; exit 1
  fi
  case "$out" in
    *"Cannot solve"*) echo "$out" ;;
    *) printf 'rattler failed for another reason:\n%s\n' "$out" >&2; exit 1 ;;
  esac
}
unsolvable clobber-2
step "rattler solve 'clobber-1 <0.2' (not the latest: must fail)"
unsolvable 'clobber-1 <0.2'
echo
echo "conda example: the mirror is a channel rattler solves from"
