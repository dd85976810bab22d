variable "version" {
  default = "1.0"
}

source "http" "tools" {
  artifact "jq" {
    url    = "https://example.org/jq/${var.verison}/jq" # ERROR: Reference to undeclared input variable
    sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
  }
}

destination "dir" "local" {
  path = var.nothing_like_it # ERROR: Reference to undeclared input variable
}

mirror "a" {
  from = source.http.tols      # ERROR: Reference to undeclared source
  to   = destination.dir.remote # ERROR: Reference to undeclared destination
}

mirror "b" {
  from = source.http.tools
  to   = destination.dir.local
}
