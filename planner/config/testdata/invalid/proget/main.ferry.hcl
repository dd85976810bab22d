source "proget_upack" "bad" {
  url         = "https://api:key@proget.example" # ERROR: Invalid url
  feed        = "universal/sub"                  # ERROR: Invalid feed
  api_key     = "k"
  api_key_env = "PROGET_KEY"                     # ERROR: Conflicting credentials
  packages    = ["["]                            # ERROR: Invalid package pattern
}

destination "proget_asset" "bad" {
  url        = "https://proget.example"
  directory  = ".."                              # ERROR: Invalid directory
  path       = "a//b"                            # ERROR: Invalid path
  chunk_size = 1024                              # ERROR: Invalid chunk_size
}

source "proget_asset" "bad" {
  url         = "https://proget.example"
  directory   = "files"
  api_key_env = ""                               # ERROR: Invalid api_key_env
  chunk_size  = 65536                            # ERROR: Unsupported argument
}
