mirror "tools" {
  from = source.http.tools
  to   = destination.dir.local

  retention {
    keep_last   = 3
    max_age     = "30d"
    keep        = ["1.6", upper("pinned")]
    max_deletes = 20
    dry_run     = true
  }
}

mirror "tools_abs" {
  from = source.http.tools
  to   = destination.dir.abs

  retention {
    max_age = "36h"
  }
}
