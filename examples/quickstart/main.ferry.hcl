# The quickstart: mirror four files served on 127.0.0.1 into ./mirror.
# Start the fixture server first (see README.md), then: ferry plan, ferry apply.

ferry {
  state       = "ferry.state.json"
  parallelism = 4
}

# Where the upstream files are served. Override with -var upstream=URL or
# FERRY_VAR_upstream=URL.
variable "upstream" {
  type        = string
  default     = "http://127.0.0.1:8731"
  description = "Base URL of the fixture server"
}

source "http" "tools" {
  artifact "greeting" {
    url     = "${var.upstream}/greeting-1.0.0.txt"
    sha256  = "ac0386797b8374b0884c0d8686bc629550737e6ba8fbd34521f85566aba10fc0"
    version = "1.0.0"
  }
  artifact "greeting" {
    url     = "${var.upstream}/greeting-1.1.0.txt"
    sha256  = "25be25e73b6de307f7b73ff0c5613bf699ed8b135c51c16aa1ce8a1b65212d4d"
    version = "1.1.0"
  }
  artifact "greeting" {
    url     = "${var.upstream}/greeting-1.2.0.txt"
    sha256  = "c4f28a3e30b10a036309c225a7ace0c8aa3f4aac4e59641702614b30285e4c1c"
    version = "1.2.0"
  }
  # sha512 works too, and a declared size is enforced while streaming.
  artifact "tool" {
    url     = "${var.upstream}/tool-linux-amd64.bin"
    sha512  = "7190ff62b9f57ca3091878a66e9228e100f89fd7a2e64648b2216698c98e5d6e61895f47e04a3657e12b0eebf8746611ce4a5c59d231f788597fe3ff1cf31447"
    version = "2.0.0"
    key     = "tool/2.0.0/linux-amd64/tool"
    size    = 262144
  }
}

destination "dir" "local" {
  path = "mirror"
}

mirror "tools" {
  from = source.http.tools
  to   = destination.dir.local

  retention {
    keep_last   = 2 # newest two versions of each package
    max_deletes = 5 # refuse a plan that deletes more
  }
}
