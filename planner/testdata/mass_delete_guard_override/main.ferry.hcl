source "http" "tools" {
  artifact "jq" {
    url     = "https://example.org/jq-1.7.1"
    sha256  = "549461cac76d9ec297bf69fefda37fc3b1e222bf3d2273b00dd4447e68fda218"
    version = "1.7.1"
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
    max_deletes = 3 # the deletes are intended: this replaces the default guard
  }
}
