ferry { # ERROR: Duplicate ferry block
}

variable "region" { # ERROR: Duplicate variable block
}

source "http" "tools" { # ERROR: Duplicate source block
}

# Same name, different type: not a duplicate.
source "http2" "tools" { # ERROR: Unsupported source type
}

destination "dir" "local" { # ERROR: Duplicate destination block
  path = "other"
}

mirror "node_deps" { # ERROR: Duplicate mirror block
  from = source.http.tools
  to   = destination.dir.local
}
