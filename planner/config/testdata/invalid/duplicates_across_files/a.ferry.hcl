ferry {
  parallelism = 2
}

variable "region" {
  default = "eu"
}

source "http" "tools" {
}

destination "dir" "local" {
  path = "m"
}

mirror "node_deps" {
  from = source.http.tools
  to   = destination.dir.local
}
