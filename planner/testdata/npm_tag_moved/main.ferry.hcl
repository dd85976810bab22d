# Tags the upstream moved since the last apply. pkg: `next` moved from
# 2.1.0 to 3.0.0-rc.1 and `old` from 2.0.0 to 1.0.0, neither selected by
# ^2.0.0: both are removed at the destination (keeping them would say the
# upstream still tags 2.x). `beta` moved to 2.0.0, which is mirrored: it
# follows. `stable` did not move. `local` is the destination's own tag (the
# upstream has none by that name): left alone. other: the upstream's latest
# (3.0.0) is not selected, so latest stays on the newest mirrored release;
# `next` points where the upstream's does: left alone.
source "npm" "up" {
  registry = "https://registry.example"
  npmrc    = false
  packages = ["pkg", "other"]
  versions {
    semver = "^2.0.0"
  }
}

destination "npm" "internal" {
  registry = "https://npm.internal"
}

mirror "npm" {
  from = source.npm.up
  to   = destination.npm.internal
}
