# Pairings judged by the capabilities each type declares (docs/providers.md).
source "http" "files" {
  artifact "a" {
    url    = "https://example.org/a"
    sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
  }
}

source "oci" "images" {
  registry   = "registry.example"
  repository = "app"
  tags {
    exact = ["1.0"]
  }
}

source "npm" "public" {
  registry = "https://registry.npmjs.org"
  packages = ["left-pad"]
}

destination "dir" "local" {
  path = "out"
}

destination "oci" "internal" {
  registry   = "registry.internal"
  repository = "mirror"
}

destination "npm" "internal" {
  registry = "https://npm.internal"
}

# An image is a graph only a destination holding graphs can take.
mirror "images_to_dir" {
  from = source.oci.images
  to   = destination.dir.local # ERROR: Incompatible source and destination
}

# Both ways: npm needs manifests, oci needs a graph destination.
mirror "images_to_npm" {
  from = source.oci.images
  to   = destination.npm.internal # ERROR: Incompatible source and destination # ERROR: Incompatible source and destination
}

# Fine: files go into an oci destination as artifacts, npm into npm.
mirror "files_to_oci" {
  from = source.http.files
  to   = destination.oci.internal
}

mirror "npm_to_npm" {
  from = source.npm.public
  to   = destination.npm.internal
}

mirror "npm_to_dir" {
  from = source.npm.public
  to   = destination.dir.local
}

mirror "bindings_from_npm" {
  from = source.npm.public
  to   = destination.dir.local
  bindings { # ERROR: Bindings need a source with consumer outputs
    path = "bindings"
  }
}
