variable "from_env" { # ERROR: Invalid value for variable
  type = number
}

variable "from_var" { # ERROR: Invalid value for variable
  type = bool
}

variable "bad_list" {
  type = list(string)
}

variable "bad_default" {
  type    = number
  default = "many" # ERROR: Invalid default value for variable
}

variable "bad-type" {
  type    = strin # ERROR: Invalid type specification
  default = "x"
}

variable "0bad" { # ERROR: Invalid variable name
  default = 1
}
