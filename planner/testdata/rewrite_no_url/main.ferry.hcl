# The destination gives no download URLs: the provider's error is shown on
# the mirror's rewrite block, found by the range config.Load recorded for
# it (the core does not know the block).
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
