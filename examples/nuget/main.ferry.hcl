# examples/nuget: a NuGet feed mirrored into another (two owners of one
# local Gitea, started by run.sh). Gitea's registrations declare no
# packageHash, so each package is checked by its own .nuspec id and
# version (require_package_hash = false).

ferry {
  state = "ferry.state.json"
}

variable "upstream" {
  type = string
}

variable "internal" {
  type = string
}

variable "api_key" {
  type      = string
  sensitive = true
}

source "nuget" "upstream" {
  service_index        = var.upstream
  packages             = ["Example.*"]
  versions             = "[1.0,3.0)"
  latest               = 2
  include_prerelease   = false
  require_package_hash = false
}

destination "nuget" "internal" {
  service_index = var.internal
  api_key       = var.api_key
}

mirror "nuget" {
  from = source.nuget.upstream
  to   = destination.nuget.internal
}
