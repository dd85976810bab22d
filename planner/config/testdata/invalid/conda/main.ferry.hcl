source "conda" "bad" {
  channel      = "ftp://conda.example/forge" # ERROR: Invalid channel
  subdirs      = ["linux-64", "Linux 64"]    # ERROR: Invalid subdir
  include      = ["numpy >="]                # ERROR: Invalid MatchSpec
  exclude      = ["conda-forge::numpy"]      # ERROR: Invalid MatchSpec
  pins         = ["numpy[colour=red]"]       # ERROR: Invalid MatchSpec
  latest       = 0                           # ERROR: Invalid latest
  max_packages = 10                          # ERROR: max_packages without dependencies
}

source "conda" "no_channel" { # ERROR: No channel and no packages
  subdirs = ["noarch"]
}
