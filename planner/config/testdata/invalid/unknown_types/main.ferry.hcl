source "htp" "tools" { # ERROR: Unsupported source type
  artifact "jq" {}
}

destination "gcs" "bucket" { # ERROR: Unsupported destination type
  bucket = "x"
}

destination "buildpack" "wrong_kind" { # ERROR: Unsupported destination type
}

# References to blocks with an unsupported type are not reported again.
mirror "m" {
  from = source.htp.tools
  to   = destination.gcs.bucket
}
