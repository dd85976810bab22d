# An npm mirror: upstream's latest (3.0.0) is outside the range, so latest
# falls back to the newest mirrored release; 1.0.0 is still upstream but no
# longer selected (deleted); 0.9.0 was unpublished upstream (deprecated).
source "npm" "up" {
  registry = "https://registry.example"
  npmrc    = false
  packages = ["pkg"]
  versions {
    semver    = "^2.0.0"
    dist_tags = ["next"]
  }
}

destination "npm" "internal" {
  registry = "https://npm.internal"
}

mirror "npm" {
  from                = source.npm.up
  to                  = destination.npm.internal
  on_upstream_removed = "deprecate"
}
