variable "token" { # ERROR: No value for required variable
  sensitive = true
}

# Uses of the missing variable are not reported again.
source "http" "s" {
  artifact "a" {
    url    = "https://${var.token}@example.org/a"
    sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
    key    = "a"
  }
}
