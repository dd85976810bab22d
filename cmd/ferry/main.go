// Command ferry mirrors packages from upstream sources into internal
// registries with a Terraform-style plan and apply.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ferry-mirror/ferry/cmd/ferry/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], cli.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}, os.Environ())
	stop()
	os.Exit(code)
}
