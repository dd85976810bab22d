# conda orders 2.0.0rc1 before 2.0.0; plain text order puts it after. With
# keep_last = 1 the release must stay and the release candidate go.
source "conda_http" "channel" {
  artifact "numpy" {
    url     = "https://example.org/numpy-1.26.4.tar.bz2"
    sha256  = "cba06b5736faf67e54b07b561eae94395e774c517a7d910a54369e1263ccfbd4"
    version = "1.26.4"
  }
  artifact "numpy" {
    url     = "https://example.org/numpy-2.0.0rc1.tar.bz2"
    sha256  = "7581e0d493f6ab3fc525c4dce2a5f835c0399ebb3207d49e609cbccb2d902a42"
    version = "2.0.0rc1"
  }
  artifact "numpy" {
    url     = "https://example.org/numpy-2.0.0.tar.bz2"
    sha256  = "2443630b4620165c8b173e7265e17526fe2787ae594364dd6d839ad58f2fc007"
    version = "2.0.0"
  }
}

destination "dir" "local" {
  path = "mirror"
}

mirror "conda" {
  from = source.conda_http.channel
  to   = destination.dir.local

  retention {
    keep_last = 1
  }
}
