# A conda mirror publishes its channel index: linux-64 gains new-2.0 (to
# transfer) and loses old-1.0 (removed upstream, deleted after the index
# stops naming it); the kept record stays; noarch has no index yet. The
# upstream record of new-2.0 is copied as served (a hotfixed depends, an
# unknown key).
source "conda" "forge" {
  channel = "channel"
  subdirs = ["linux-64"]
}

destination "dir" "local" {
  path = "mirror"
}

mirror "conda" {
  from = source.conda.forge
  to   = destination.dir.local
}
