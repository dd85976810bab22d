# Mirror buildpack dependencies into an OCI registry and point a
# buildpack.toml at the blob URLs (what a buildpack downloads with one plain
# GET). Reuses the trimmed node-engine file and fixtures of ../buildpack.
# run.sh starts a local docker-registry and the fixture server.

variable "registry" {
  type        = string
  default     = "127.0.0.1:5001"
  description = "host:port of the registry"
}

source "buildpack" "node_engine" {
  file = "../buildpack/buildpacks/node-engine"

  include {
    versions = ">= 22"
  }
}

destination "oci" "local" {
  registry   = var.registry
  repository = "buildpack-deps/node"
  plain_http = true # a local test registry; TLS is the default
}

mirror "node" {
  from = source.buildpack.node_engine
  to   = destination.oci.local

  rewrite {
    output = "out/buildpack.toml"
  }
}
