source "buildpack" "bp" {
  file    = "buildpack.toml"
  sources = true
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

  rewrite {
    output  = "out/buildpack.toml"
    sources = true
  }
}
