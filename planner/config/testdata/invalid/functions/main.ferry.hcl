source "http" "s" {
  artifact "a" {
    url    = env("FERRY_TEST_UNSET_URL") # ERROR: Invalid function argument
    sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
  }
  artifact "b" {
    url    = env("FERRY_TEST_UNSET_URL", "https://example.org/b")
    sha256 = trimspace(file("missing-digest.txt")) # ERROR: Invalid function argument
  }
  artifact "c" {
    url    = "https://example.org/c"
    sha256 = nosuchfunc("x") # ERROR: Call to unknown function
  }
}
