ferry {
  max_deletes = 10
}

source "http" "a" {
  artifact "tool-a" {
    url     = "https://example.org/tool-a-1"
    sha256  = "f55ff16f66f43360266b95db6f8fec01d76031054306ae4a4b380598f6cfd114"
    version = "1"
  }
  artifact "tool-a" {
    url     = "https://example.org/tool-a-2"
    sha256  = "2c3a4249d77070058649dbd822dcaf7957586fce428cfb2ca88b94741eda8b07"
    version = "2"
  }
  artifact "tool-a" {
    url     = "https://example.org/tool-a-3"
    sha256  = "f46dd28a5499d8efef0b8fb8ee1ec1c5a5e407c9381741d576ba8deb4f59ec3f"
    version = "3"
  }
  artifact "tool-a" {
    url     = "https://example.org/tool-a-4"
    sha256  = "4539e4b4889079c2a00afeae0bfc1439840ef2379a1fb81c8ba27361ad476d6b"
    version = "4"
  }
}

source "http" "b" {
  artifact "tool-b" {
    url     = "https://example.org/tool-b-5"
    sha256  = "3c5661974942379614b943d0593e4a5e3f85900ab3fb4ce064725c15ccb93a01"
    version = "5"
  }
}

source "http" "c" {
  artifact "tool-c" {
    url     = "https://example.org/tool-c-1"
    sha256  = "d0f631ca1ddba8db3bcfcb9e057cdc98d0379f1bee00e75a545147a27dadd982"
    version = "1"
  }
  artifact "tool-c" {
    url     = "https://example.org/tool-c-2"
    sha256  = "9c0abe51c6e6655d81de2d044d4fb194931f058c0426c67c7285d8f5657ed64a"
    version = "2"
  }
}

# Every mirror writing to it shares the quota; dry-run deletes do not use it.
destination "dir" "local" {
  path             = "mirror"
  deletes_per_hour = 2
}

mirror "a" {
  from = source.http.a
  to   = destination.dir.local
  retention {
    keep_last = 1
  }
}

mirror "b" {
  from = source.http.b
  to   = destination.dir.local
}

mirror "c" {
  from = source.http.c
  to   = destination.dir.local
  retention {
    keep_last = 1
    dry_run   = true
  }
}
