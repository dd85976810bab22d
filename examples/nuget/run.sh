#!/usr/bin/env bash
# The NuGet tour: a local Gitea (its NuGet registry) with two owners, an
# upstream feed holding packages pushed with curl as NuGet clients push,
# and an internal feed; plan, apply, plan again (no changes), a new
# upstream release moves the selection (one added, the oldest deleted from
# Gitea), and finally NuGet.exe 5.8 on Mono installs a mirrored package
# from the internal feed alone. Needs bin/ferry (make build), Gitea, Mono
# and NuGet.exe (make setup), python3 and curl.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
ferry="${FERRY:-$repo/bin/ferry}"
[ -x "$ferry" ] || { echo "build ferry first: make build" >&2; exit 1; }
root="${FERRY_TESTENV_ROOT:-$HOME/.cache/ferry-testenv}"
gitea="${FERRY_GITEA:-$root/bin/gitea}"
static="${FERRY_GITEA_STATIC:-$root/gitea-src}"
nuget_exe="$root/nuget/node_modules/nuget-exe/nuget-5.8.0.exe"
[ -x "$gitea" ] && [ -d "$static/templates" ] || { echo "Gitea missing: make setup" >&2; exit 1; }
[ -f "$nuget_exe" ] && command -v mono >/dev/null || { echo "Mono or NuGet.exe missing: make setup" >&2; exit 1; }

work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# Gitea on a free 127.0.0.1 port: SQLite, no SSH, no mail, packages on.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
G="$work/gitea"
mkdir -p "$G/custom/conf"
cat > "$G/custom/conf/app.ini" <<INI
APP_NAME = ferry-example
RUN_USER = $(id -un)
RUN_MODE = prod
I_AM_BEING_UNSAFE_RUNNING_AS_ROOT = true
WORK_PATH = $G
[server]
HTTP_ADDR = 127.0.0.1
HTTP_PORT = $port
ROOT_URL = http://127.0.0.1:$port/
DISABLE_SSH = true
START_SSH_SERVER = false
LFS_START_SERVER = false
OFFLINE_MODE = true
APP_DATA_PATH = $G/data
STATIC_ROOT_PATH = $static
[database]
DB_TYPE = sqlite3
PATH = $G/data/gitea.db
SQLITE_JOURNAL_MODE = WAL
[repository]
ROOT = $G/data/repos
[security]
INSTALL_LOCK = true
SECRET_KEY = ferry-example-not-secret
PASSWORD_HASH_ALGO = pbkdf2_hi
[service]
DISABLE_REGISTRATION = true
[packages]
ENABLED = true
[actions]
ENABLED = false
[mailer]
ENABLED = false
[cron]
ENABLED = false
[cron.update_checker]
ENABLED = false
[session]
PROVIDER = memory
[cache]
ADAPTER = memory
[log]
MODE = console
LEVEL = Warn
INI
gc() { "$gitea" --config "$G/custom/conf/app.ini" --work-path "$G" --custom-path "$G/custom" "$@"; }
gc migrate >"$work/gitea-cli.log" 2>&1
gc admin user create --username ferry --password example-password --email ferry@example.invalid --admin --must-change-password=false >>"$work/gitea-cli.log" 2>&1
token=$(gc admin user generate-access-token --username ferry --token-name example --scopes all --raw 2>>"$work/gitea-cli.log" | tail -1)
# The binary itself in the background (not through gc: $! would be the
# subshell running the function, and killing it would leave Gitea running).
"$gitea" --config "$G/custom/conf/app.ini" --work-path "$G" --custom-path "$G/custom" web >"$work/gitea.log" 2>&1 & pids+=($!)
base="http://127.0.0.1:$port"
for _ in $(seq 300); do curl -sf -H "Authorization: token $token" "$base/api/v1/user" >/dev/null && break; sleep 0.1; done
curl -sf -H "Authorization: token $token" "$base/api/v1/user" >/dev/null || { echo "gitea did not start:" >&2; tail -20 "$work/gitea.log" >&2; exit 1; }
curl -sf -X POST -H "Authorization: token $token" -H 'Content-Type: application/json' \
  -d '{"username":"upstream","visibility":"public"}' "$base/api/v1/orgs" >/dev/null

upstream="$base/api/packages/upstream/nuget/index.json"
internal="$base/api/packages/ferry/nuget/index.json"

# pack ID VERSION: a minimal .nupkg (a .nuspec, the OPC files NuGet.exe
# reads, and content/hello.txt).
pack() {
  python3 - "$1" "$2" "$work/$1.$2.nupkg" <<'PY'
import sys, zipfile
pid, ver, out = sys.argv[1:]
nuspec = f'''<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd"><metadata>
<id>{pid}</id><version>{ver}</version><authors>ferry-example</authors><description>An example package.</description>
<dependencies><group targetFramework="netstandard2.0" /></dependencies></metadata></package>'''
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("_rels/.rels", '<?xml version="1.0" encoding="utf-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Type="http://schemas.microsoft.com/packaging/2010/07/manifest" Target="/%s.nuspec" Id="R1" /></Relationships>' % pid)
    z.writestr(f"{pid}.nuspec", nuspec)
    z.writestr("content/hello.txt", f"hello from {pid} {ver}\n")
    z.writestr("[Content_Types].xml", '<?xml version="1.0" encoding="utf-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml" /><Default Extension="nuspec" ContentType="application/octet" /><Default Extension="txt" ContentType="application/octet" /></Types>')
PY
}
# push ID VERSION: upload to the upstream feed the way NuGet clients do.
push() {
  pack "$1" "$2"
  curl -sf -X PUT -H "X-NuGet-ApiKey: $token" -F "package=@$work/$1.$2.nupkg" "$base/api/packages/upstream/nuget/" >/dev/null
}
push Example.Greeting 1.0.0
push Example.Greeting 1.1.0
push Example.Greeting 2.0.0-rc.1
push Example.Greeting 3.0.0
push Example.Shout 1.0.0

mkdir -p "$work/nuget"
cp "$here/main.ferry.hcl" "$work/nuget/"
cd "$work/nuget"
export FERRY_VAR_upstream="$upstream" FERRY_VAR_internal="$internal" FERRY_VAR_api_key="$token"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
# Greeting 1.0.0 and 1.1.0 (2.0.0-rc.1 is a pre-release, 3.0.0 out of
# range), Shout 1.0.0.
step ferry plan;                    "$ferry" plan
step ferry apply -auto-approve;     "$ferry" apply -auto-approve
step ferry plan -detailed-exitcode; "$ferry" plan -detailed-exitcode

step "a new upstream release: Example.Greeting 1.2.0"
push Example.Greeting 1.2.0
# latest = 2: 1.2.0 is added, 1.0.0 deleted from the internal feed.
step ferry apply -auto-approve;     "$ferry" apply -auto-approve
step ferry plan -detailed-exitcode; "$ferry" plan -detailed-exitcode
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/api/packages/ferry/nuget/package/example.greeting/1.0.0/example.greeting.1.0.0.nupkg")
[ "$code" = 404 ] || { echo "Example.Greeting 1.0.0 is still in the internal feed ($code)" >&2; exit 1; }

step "nuget.exe install Example.Greeting -Version 1.2.0 (from the internal feed only)"
export HOME="$work/home"   # NuGet caches service indexes under HOME
mkdir -p "$HOME"
cat > "$work/NuGet.Config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="internal" value="$internal" protocolVersion="3" />
  </packageSources>
</configuration>
XML
mono "$nuget_exe" install Example.Greeting -Version 1.2.0 -Source "$internal" -ConfigFile "$work/NuGet.Config" \
  -OutputDirectory "$work/packages" -NonInteractive
got=$(cat "$work/packages/Example.Greeting.1.2.0/content/hello.txt")
[ "$got" = "hello from Example.Greeting 1.2.0" ] || { echo "nuget.exe installed something else: $got" >&2; exit 1; }
cmp "$work/packages/Example.Greeting.1.2.0/Example.Greeting.1.2.0.nupkg" "$work/Example.Greeting.1.2.0.nupkg" \
  || { echo "the installed .nupkg is not the upstream's bytes" >&2; exit 1; }
echo "installed: $got (the upstream's bytes)"
