// Package conda is the conda channel source (source "conda"): it reads a
// channel's per-subdir repodata (over http(s) or from a local directory),
// selects records by MatchSpec, latest-N and an optional dependency
// closure, and fetches each package verified against the size, sha256 and
// md5 the repodata declares. It also holds conda's version order, which the
// source type declares so that retention ranks conda versions the way conda
// does. See docs/conda.md.
package conda
