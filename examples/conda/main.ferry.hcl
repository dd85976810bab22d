# Mirror chosen packages of a conda channel into a channel on disk. run.sh
# serves upstream/ (a small noarch channel) on 127.0.0.1, then serves the
# mirror and has rattler (an independent conda solver) solve against it.

ferry {
  state = "ferry.state.json"
}

variable "channel" {
  type        = string
  default     = "http://127.0.0.1:8731"
  description = "the channel packages come from (FERRY_VAR_channel)"
}

source "conda" "upstream" {
  channel = var.channel
  subdirs = ["noarch"]
  include = ["clobber-*", "test-package >=0.1"]
  exclude = ["clobber-2"] # never listed, whatever include says
  latest  = 1             # the newest version of each name
}

# A channel in ./mirror: packages under noarch/, and noarch/repodata.json
# (.zst, .bz2) naming exactly the packages present.
destination "dir" "channel" {
  path = "mirror"
}

mirror "conda" {
  from = source.conda.upstream
  to   = destination.dir.channel
}
