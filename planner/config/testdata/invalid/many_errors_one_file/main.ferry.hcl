ferry {
  parallelism = 0 # ERROR: Invalid parallelism
}

source "http" "s" {
  artifact "a" {
    url    = "gopher://example.org/a" # ERROR: Unsupported URL scheme
    sha256 = "abc" # ERROR: Invalid sha256 digest
  }
}

destination "dir" "d" {
  path = "d"
}

mirror "m" {
  from = source.http.z # ERROR: Reference to undeclared source
  to   = destination.dir.d
  retention {
    keep_last = 0 # ERROR: Invalid retention count
  }
}
