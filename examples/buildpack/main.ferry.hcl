# Mirror the dependencies of two buildpacks (trimmed copies of Paketo's
# node-engine and gradle buildpack.toml, whose uris point at fixture files
# served on 127.0.0.1:8732) into ./mirror, served on 127.0.0.1:8733, and
# write buildpack.toml copies whose uris point at the mirror, a
# dependency-mapping binding, and a BP_DEPENDENCY_MIRROR layout.
# run.sh does the whole tour.

variable "mirror_url" {
  type        = string
  default     = "http://127.0.0.1:8733"
  description = "Where ./mirror is served; the rewritten uris start with it"
}

# packit schema: checksum = "sha256:…", source = the same tarball.
source "buildpack" "node_engine" {
  file = "buildpacks/node-engine" # a directory means its buildpack.toml

  include {
    versions = ">= 20"
    targets  = ["linux/amd64", "linux/arm64"]
  }
  latest = 2 # newest two node versions: 22.23.2 and 20.20.2
}

# libpak schema: sha256 = "…", source-sha256 for the source zip.
source "buildpack" "gradle" {
  file    = "buildpacks/gradle/buildpack.toml"
  sources = true # mirror the source zip too
}

destination "dir" "local" {
  path     = "mirror"
  base_url = var.mirror_url
}

mirror "node" {
  from = source.buildpack.node_engine
  to   = destination.dir.local

  rewrite {
    output = "out/node-engine/buildpack.toml"
  }

  # For teams that cannot edit the buildpack: a dependency-mapping binding
  # (one file per checksum holding its mirror URL).
  bindings {
    path = "out/bindings/node-engine"
  }
}

# The third way: store files at <original host>/<original path>, so that
# BP_DEPENDENCY_MIRROR=<base_url>/{originalHost} works without any rewrite.
# The plan reports every dependency this layout does not cover.
source "buildpack" "node_engine_layout" {
  file   = "buildpacks/node-engine"
  layout = "dependency_mirror"

  include {
    versions = ">= 22"
  }
}

mirror "node_layout" {
  from = source.buildpack.node_engine_layout
  to   = destination.dir.local
}

mirror "gradle" {
  from = source.buildpack.gradle
  to   = destination.dir.local

  retention {
    max_deletes = 5
  }

  rewrite {
    output  = "out/gradle/buildpack.toml"
    sources = true
  }
}
