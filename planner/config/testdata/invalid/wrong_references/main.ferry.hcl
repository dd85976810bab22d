source "http" "tools" {
}

destination "dir" "local" {
  path = "m"
}

mirror "a" {
  from = destination.dir.local # ERROR: Invalid source reference
  to   = "destination.dir.local" # ERROR: Invalid destination reference
}

mirror "b" {
  from = source.http # ERROR: Invalid source reference
  to   = destination.dir["local"] # ERROR: Invalid destination reference
}

mirror "c" {
  from = source.http.tools
  to   = source.http.tools # ERROR: Invalid destination reference
}
