source "npm" "bad" {
  registry    = "ftp://registry.example" # ERROR: Invalid registry
  packages    = ["lodash", "Bad Name", "@types/*"] # ERROR: Invalid package name
  max_missing = -1 # ERROR: Invalid max_missing

  versions {
    semver    = ">= banana" # ERROR: Invalid semver range
    latest    = 0           # ERROR: Invalid latest
    dist_tags = ["a/b"]     # ERROR: Invalid dist-tag
  }

  scope "corp" { # ERROR: Invalid scope
    registry = "https://npm.corp.example"
  }

  dependencies {
    depth = 0 # ERROR: Invalid depth
  }

  changes {
    url         = "https://replicate.npmjs.com/registry" # ERROR: Invalid changes feed URL
    format      = "couchdb" # ERROR: Invalid changes feed format
    max_changes = 0 # ERROR: Invalid max_changes
  }
}

source "npm" "scoped_feeds" {
  registry = "https://registry.npmjs.org"
  packages = ["@corp/*"]

  scope "@corp" {
    registry = "https://npm.corp.example"
    changes {
      url = "https://npm.corp.example/_changes?since=0" # ERROR: Invalid changes feed URL
    }
    changes { # ERROR: Duplicate changes block
      url = "https://npm.corp.example/_changes"
    }
  }
}

source "npm" "empty" { # ERROR: No packages selected
  registry = "https://registry.npmjs.org"
}

source "npm" "ok" {
  registry = "https://registry.npmjs.org"
  token    = "t"
  npmrc    = true # ERROR: Conflicting credentials
  packages = ["lodash"]
}

source "http" "files" {
  artifact "a" {
    url    = "https://example.org/a"
    sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
  }
}

destination "npm" "internal" {
  registry = "https://npm.internal"
}

destination "dir" "local" {
  path = "out"
}

mirror "files_to_npm" {
  from = source.http.files
  to   = destination.npm.internal # ERROR: Incompatible source and destination
}

mirror "deprecate_to_dir" {
  from                = source.npm.ok
  to                  = destination.dir.local
  on_upstream_removed = "deprecate" # ERROR: deprecate needs a destination with package metadata
}

mirror "bad_policy" {
  from                = source.npm.ok
  to                  = destination.npm.internal
  on_upstream_removed = "archive" # ERROR: Invalid on_upstream_removed
}
