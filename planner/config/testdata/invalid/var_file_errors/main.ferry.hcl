variable "region" {
  default = "eu"
}

variable "count" {
  type    = number
  default = 1
}
