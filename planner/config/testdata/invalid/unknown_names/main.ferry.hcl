ferry {
  paralelism = 3 # ERROR: Unsupported argument
}

mirrors "m" { # ERROR: Unsupported block type
}

variable "v" {
  default  = "x"
  sensitiv = true # ERROR: Unsupported argument
}

source "http" "tools" {
  artifacts "jq" { # ERROR: Unsupported block type
  }
  artifact "yq" {
    url    = "https://example.org/yq"
    sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
    sha265 = "0000000000000000000000000000000000000000000000000000000000000000" # ERROR: Unsupported argument
  }
}

destination "dir" "local" {
  path = "m"
  paht = "m" # ERROR: Unsupported argument
}

mirror "m" {
  from = source.http.tools
  to   = destination.dir.local
  retention {
    keep_lats = 3 # ERROR: Unsupported argument
  }
  retention { # ERROR: Duplicate retention block
  }
}
