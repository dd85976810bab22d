source "http" "tools" {
  artifact "jq" {
    url     = "https://example.org/jq-1.5"
    sha256  = "764628ee45dedbea748f39576de693c6b6eae960f7091a3e66d441115b201ab7"
    version = "1.5"
  }
  artifact "jq" {
    url     = "https://example.org/jq-1.10"
    sha256  = "d9a4f61728f374083847bfe6feec4f8382f832e95f5db707e4084a239874b445"
    version = "1.10"
  }
}

destination "dir" "local" {
  path = "mirror"
}

mirror "tools" {
  from = source.http.tools
  to   = destination.dir.local

  retention {
    keep_last = 1
  }
}
