source "http" "tools" {
  artifact "jq" {
    url     = "https://example.org/jq/${var.jq_version}/jq-linux-amd64"
    sha256  = "5942C9B0934E510EE61EB3E30273F1B3FE2590DF93933A93D7C58B81D19C8FF5"
    version = var.jq_version
    size    = 1234
  }

  # A second version of the same package.
  artifact "jq" {
    url     = "https://example.org/jq/1.6/jq-linux-amd64"
    sha512  = "${join("", [for i in [1, 2, 3, 4] : "0123456789abcdef0123456789abcdef"])}"
    version = "1.6"
  }

  artifact "private" {
    url    = "https://ci:${var.registry_password}@internal.example/files/tool.tar.gz"
    sha256 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    key    = "private/tool.tar.gz"
  }

  artifact "readme" {
    url    = "file:///srv/files/README.txt"
    sha256 = lower(env("README_SHA256"))
    key    = trimspace(file("readme-key.txt"))
  }

  artifact "basic" {
    url    = "https://user:pw@example.org/dl/basic.bin"
    sha256 = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
  }
}

destination "dir" "local" {
  path = var.mirror_root
}

destination "dir" "abs" {
  path = "/srv/mirror/../mirror2/"
}
