region = "us"
count = # ERROR: Invalid expression
