variable "secret" {
  default   = "1.0"
  sensitive = true
}

source "http" "tools" {
  artifact "short" {
    url    = "https://example.org/short"
    sha256 = "5942c9b0" # ERROR: Invalid sha256 digest
  }
  artifact "nothex" {
    url    = "https://example.org/nothex"
    sha512 = "zz" # ERROR: Invalid sha512 digest
  }
  artifact "nodigest" { # ERROR: Missing artifact digest
    url = "https://example.org/nodigest"
  }
  artifact "ftp" {
    url    = "ftp://example.org/ftp" # ERROR: Unsupported URL scheme
    sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
  }
  artifact "relfile" {
    url    = "file://relative/path" # ERROR: Invalid URL
    sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
  }
  artifact "nobase" {
    url    = "https://example.org/dir/" # ERROR: Artifact key required
    sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
  }
  artifact "dotdot" {
    url    = "https://example.org/x"
    sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
    key    = "tools/../etc/passwd" # ERROR: Invalid artifact key
  }
  artifact "slashver" {
    url     = "https://example.org/x"
    sha256  = "0000000000000000000000000000000000000000000000000000000000000000"
    version = "1.0/.." # ERROR: Invalid artifact key
  }
  artifact "negative" {
    url    = "https://example.org/neg"
    sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
    size   = -1 # ERROR: Invalid artifact size
  }
  artifact "secretver" {
    url     = "https://example.org/sv"
    sha256  = "0000000000000000000000000000000000000000000000000000000000000000"
    version = var.secret # ERROR: Sensitive value not allowed
  }
  artifact "secreturl" {
    url    = "https://example.org/${var.secret}/file" # ERROR: Artifact key required
    sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
  }
  artifact "dup" {
    url    = "https://example.org/a/file"
    sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
    key    = "same/key"
  }
  artifact "dup2" { # ERROR: Duplicate artifact key
    url    = "https://example.org/b/file"
    sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
    key    = "same/key"
  }
  artifact "jq" {
    url     = "https://example.org/1/jq"
    sha256  = "0000000000000000000000000000000000000000000000000000000000000000"
    version = "1"
  }
  artifact "jq" { # ERROR: Duplicate artifact key
    url     = "https://example.org/2/jq"
    sha256  = "0000000000000000000000000000000000000000000000000000000000000000"
    version = "1"
  }
  artifact "bad/name" { # ERROR: Invalid artifact name
    url    = "https://example.org/x"
    sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
  }
  artifact "notype" {
    url    = ["https://example.org/x"] # ERROR: Incorrect attribute value type
    sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
  }
}

destination "dir" "empty" {
  path = "" # ERROR: Invalid directory path
}
