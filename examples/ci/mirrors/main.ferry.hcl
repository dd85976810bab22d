# The configuration the CI examples (../github/ferry.yml, ../gitlab/.gitlab-ci.yml)
# run: copy this directory to mirrors/ in your repository. See docs/ci.md.

ferry {
  # Pipelines run on fresh runners: the state lives in a bucket, not on disk.
  # Every state write is conditional on the ETag ferry read, and the lock is
  # an object of its own, so a PR plan, a merge apply and the drift check
  # never both win (docs/state-format.md, backends). Credentials come from
  # the AWS chain (the workflows assume a role); none are written here.
  backend "s3" {
    bucket = "acme-ferry-state"
    key    = "mirrors/ferry.state.json"
    region = "eu-west-1"
  }
  parallelism = 8
}

variable "upstream" {
  type        = string
  default     = "https://downloads.example.org"
  description = "Where the tools are published"
}

source "http" "tools" {
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
}

destination "s3" "mirror" {
  bucket     = "acme-mirror"
  prefix     = "tools"
  region     = "eu-west-1"
  public_url = "https://mirror.example.internal"
}

mirror "tools" {
  from = source.http.tools
  to   = destination.s3.mirror

  retention {
    keep_last = 2
  }
}
