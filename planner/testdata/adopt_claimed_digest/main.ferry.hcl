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
  artifact "jq" {
    url     = "https://example.org/jq-1.7"
    sha256  = "cb1c1b1ad33fb834a7b2b0c6c1b20455451f44924840893be295261fa57d70f5"
    version = "1.7"
  }
}

destination "dir" "local" {
  path = "mirror"
}

mirror "tools" {
  from = source.http.tools
  to   = destination.dir.local
}
