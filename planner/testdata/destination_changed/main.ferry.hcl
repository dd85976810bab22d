destination "dir" "other" {
  path = "other"
}

source "http" "tools" {
  artifact "jq" {
    url     = "https://example.org/jq-1.5"
    sha256  = "764628ee45dedbea748f39576de693c6b6eae960f7091a3e66d441115b201ab7"
    version = "1.5"
  }
}

destination "dir" "local" {
  path = "mirror"
}

mirror "tools" {
  from = source.http.tools
  to   = destination.dir.other
}
