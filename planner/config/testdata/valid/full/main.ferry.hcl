ferry {
  state       = "state/ferry.state.json"
  parallelism = 4
  max_deletes = 50
}

variable "mirror_root" {
  type        = string
  default     = "mirror"
  description = "Where the local mirror lives."
}

variable "jq_version" {
  default = "1.7.1"
}

variable "registry_password" {
  type      = string
  sensitive = true
}

variable "retries" {
  type    = number
  default = 3
}

variable "platforms" {
  type    = list(string)
  default = ["linux-amd64"]
}
