# A buildpack source in the dependency_mirror layout: no consumer file is
# written, but the plan reports what BP_DEPENDENCY_MIRROR covers: 2.0.0 is
# mirrored, 1.0.0 is dropped by retention, 0.9.0 has no checksum, and
# "other" is not selected.
source "buildpack" "bp" {
  file   = "buildpack.toml"
  layout = "dependency_mirror"
  include {
    ids = ["tool"]
  }
}

destination "dir" "local" {
  path     = "mirror"
  base_url = "https://mirror.internal/deps"
}

mirror "tools" {
  from = source.buildpack.bp
  to   = destination.dir.local

  retention {
    keep_last = 1
  }
}
