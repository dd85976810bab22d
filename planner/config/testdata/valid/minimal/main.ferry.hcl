source "http" "one" {
  artifact "tool" {
    url    = "https://example.org/tool"
    sha256 = "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
  }
}

destination "dir" "out" {
  path = "out"
}

mirror "m" {
  from = source.http.one
  to   = destination.dir.out
}
