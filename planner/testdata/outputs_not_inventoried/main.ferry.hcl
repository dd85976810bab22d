# The inventory read no consumer outputs of a mirror that has output blocks:
# the error is shown on its first such block, wherever config.Load recorded it.
source "buildpack" "bp" {
  file    = "buildpack.toml"
  sources = true
}

destination "dir" "local" {
  path = "mirror"
}

mirror "tools" {
  from = source.buildpack.bp
  to   = destination.dir.local

  bindings {
    path = "bindings"
  }

  rewrite {
    output  = "out/buildpack.toml"
    sources = true
  }
}
