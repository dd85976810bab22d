source "http" "tools" {
  artifact "jq" {
    url     = "https://example.org/jq-1.5"
    sha256  = "764628ee45dedbea748f39576de693c6b6eae960f7091a3e66d441115b201ab7"
    version = "1.5"
  }
  artifact "jq" {
    url     = "https://example.org/jq-1.6"
    sha256  = "799a98f95947ccd1a85fb87f106b764b520c2967e005f4c46d76950b8ecd340e"
    version = "1.6"
  }
}

destination "dir" "local" {
  path = "mirror"
}

mirror "renamed" {
  from = source.http.tools
  to   = destination.dir.local
}
