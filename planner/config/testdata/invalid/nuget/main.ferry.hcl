source "nuget" "bad" {
  service_index      = "ftp://feed.example/v3/index.json" # ERROR: Invalid service_index
  packages           = ["Newtonsoft.Json", "a..b", "Serilog.*"] # ERROR: Invalid package id
  versions           = "1.*"                               # ERROR: Invalid version range
  latest             = 0                                   # ERROR: Invalid latest
  include_prerelease = "maybe"                             # ERROR: Incorrect attribute value type
}

source "nuget" "no_packages" {
  service_index = "https://api.nuget.org/v3/index.json"
  packages      = [] # ERROR: No packages selected
}

destination "nuget" "no_key" { # ERROR: Missing required argument
  service_index = "https://gitea.example/api/packages/o/nuget/index.json"
}

destination "nuget" "empty_key" {
  service_index = "https://gitea.example/api/packages/other/nuget/index.json"
  api_key       = "" # ERROR: Empty api_key
}

destination "nuget" "same_feed" { # ERROR: Overlapping destinations
  service_index = "https://GITEA.example:443/api/packages/o/nuget/index.json"
  api_key       = "k"
}
