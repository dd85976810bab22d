regoin = "us" # ERROR: Value for undeclared variable
count  = "many" # ERROR: Invalid value for variable
region = var.count # ERROR: Variables not allowed
nested {  # ERROR: Unexpected "nested" block
}
