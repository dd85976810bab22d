source "http" "s" {
  artifact "a" { # ERROR: Missing required argument
    sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
  }
}

destination "dir" "d" { # ERROR: Missing required argument
}

mirror "m" { # ERROR: Missing required argument
  from = source.http.s
}

source "http" { # ERROR: Missing name for source
}
