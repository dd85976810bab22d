ferry {
  state       = "" # ERROR: Invalid state path
  parallelism = 0  # ERROR: Invalid parallelism
  max_deletes = -1 # ERROR: Invalid max_deletes
}

source "http" "s" {
}

destination "dir" "d" {
  path = "d"
}

mirror "a" {
  from = source.http.s
  to   = destination.dir.d
  retention {
    keep_last   = 0      # ERROR: Invalid retention count
    max_age     = "soon" # ERROR: Invalid max_age duration
    keep        = "1.6"  # ERROR: Incorrect attribute value type
    max_deletes = -5     # ERROR: Invalid max_deletes
    dry_run     = "perhaps" # ERROR: Incorrect attribute value type
  }
}

mirror "b" {
  from = source.http.s
  to   = destination.dir.d
  retention {
    keep_last = 1.5   # ERROR: Invalid argument value
    max_age   = "0d"  # ERROR: Invalid max_age duration
    keep      = [null] # ERROR: Invalid argument value
  }
}

mirror "c" {
  from = source.http.s
  to   = destination.dir.d
  retention {
    max_age = "-1h" # ERROR: Invalid max_age duration
  }
}
