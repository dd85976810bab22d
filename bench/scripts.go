package main

// The peer contenders are shell scripts around each tool, driven per file
// with xargs -P (the same concurrency ferry gets). Every script gets a
// list file with lines "NAME SHA256 SIZE" and the environment UP (upstream
// base URL), REG (registry host:port), REPO, TOOLS (bench/.tools), TMPD
// (scratch directory on the same disk) and P (parallelism).

// Per-file steps of a "download, verify, push with a peer tool" script: the
// fair script around oras or crane for an HTTP upstream. Peers read the
// file back from local disk, as they must.
const scriptPeer = `set -euo pipefail
name=$1 sha=$2
d=$(mktemp -d -p "$TMPD"); cd "$d"
curl -sSf -o "$name" "$UP/$name"
echo "$sha  $name" | sha256sum -c --quiet -
case $TOOL in
oras)  "$TOOLS/oras" push --plain-http --no-tty --artifact-type application/vnd.ferry.file.v1 "$REG/$REPO:$name" "$name:application/octet-stream" >/dev/null ;;
crane) "$TOOLS/crane" append --oci-empty-base -f "$name" -t "$REG/$REPO:$name" >/dev/null 2>&1 ;;
esac
cd /; rm -rf "$d"
`

// A bpsync-style mirror: curl download to disk, verify, then upload with
// curl (monolithic blob PUT with the digest, then the manifest).
const scriptBpsync = `set -euo pipefail
name=$1 sha=$2 size=$3
d=$(mktemp -d -p "$TMPD"); cd "$d"
curl -sSf -o f "$UP/$name"
echo "$sha  f" | sha256sum -c --quiet -
loc=$(curl -sSf -X POST -D - -o /dev/null "http://$REG/v2/$REPO/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
case $loc in http*) ;; *) loc="http://$REG$loc" ;; esac
curl -sSf -X PUT -H 'Content-Type: application/octet-stream' -T f -o /dev/null "$loc&digest=sha256:$sha"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.ferry.file.v1","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[{"mediaType":"application/octet-stream","digest":"sha256:%s","size":%s}]}' "$sha" "$size" >m
curl -sSf -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @m -o /dev/null "http://$REG/v2/$REPO/manifests/$name"
cd /; rm -rf "$d"
`

// The raw limit: one streaming curl | curl pipe per file into a blob
// upload (chunked PUT with the digest known up front). No verification
// and no manifest: the bytes only.
const scriptRawPipe = `set -euo pipefail
name=$1 sha=$2
loc=$(curl -sSf -X POST -D - -o /dev/null "http://$REG/v2/$REPO/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
case $loc in http*) ;; *) loc="http://$REG$loc" ;; esac
curl -sSf "$UP/$name" | curl -sSf -X PUT -H 'Content-Type: application/octet-stream' -T - -o /dev/null "$loc&digest=sha256:$sha"
`

// The driver: push the empty config blob once (bpsync), then run the
// per-file script over the list with xargs -P.
const scriptDriver = `set -euo pipefail
list=$1 per=$2
if [ "${CONFIG_BLOB:-}" = 1 ]; then
  loc=$(curl -sSf -X POST -D - -o /dev/null "http://$REG/v2/$REPO/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
  case $loc in http*) ;; *) loc="http://$REG$loc" ;; esac
  printf '{}' | curl -sSf -X PUT -T - -o /dev/null "$loc&digest=sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
fi
xargs -P "$P" -n 3 bash "$per" <"$list"
`
