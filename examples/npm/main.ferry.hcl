# Mirror chosen npm packages from one registry into another: versions by
# range and dist-tag, the dist-tags kept in step, versions the upstream
# removes handled by on_upstream_removed. run.sh starts two local Verdaccio
# registries and publishes the shipped tarballs (upstream/*.tgz) into the
# first one.

variable "upstream" {
  type        = string
  default     = "http://127.0.0.1:4873"
  description = "the registry packages come from"
}

variable "internal" {
  type        = string
  default     = "http://127.0.0.1:4874"
  description = "the registry ferry publishes to"
}

variable "internal_token" {
  type        = string
  sensitive   = true
  description = "a publish token for the internal registry (FERRY_VAR_internal_token)"
}

variable "on_removed" {
  type        = string
  default     = "deprecate"
  description = "what happens to a mirrored version the upstream removes: keep, deprecate or delete"
}

source "npm" "upstream" {
  registry = var.upstream
  npmrc    = false # anonymous reads
  packages = ["greet", "@demo/*"]

  versions {
    semver    = ">= 1.0.0"
    latest    = 2
    dist_tags = ["latest", "next"]
  }
}

destination "npm" "internal" {
  registry = var.internal
  token    = var.internal_token
}

mirror "npm" {
  from                = source.npm.upstream
  to                  = destination.npm.internal
  on_upstream_removed = var.on_removed
}
