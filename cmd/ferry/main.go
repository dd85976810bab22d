// Command ferry mirrors packages from upstream sources into internal
// registries with a Terraform-style plan and apply.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"

	"github.com/hashicorp/go-hclog"

	"github.com/ferry-mirror/ferry/cmd/ferry/internal/cli"
)

func main() {
	// The CLI decides what a signal means: a one-shot command is cancelled
	// by the first, ferry run drains on the first and aborts on the second.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	stopProfiles := startProfiles()
	code := cli.Execute(context.Background(), os.Args[1:], cli.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}, os.Environ(),
		cli.WithLoggerHook(routeStdLog), cli.WithSignals(sigs))
	stopProfiles()
	signal.Stop(sigs)
	os.Exit(code)
}

// routeStdLog sends the standard library's logger through ferry's logger,
// so that its lines (net/http's "Unsolicited response …", which quotes
// upstream bytes, or a library's stray log.Printf) obey FERRY_LOG=off and
// land in FERRY_LOG_PATH instead of on stderr. They are logged at warn
// level under the name ferry.stdlog.
func routeStdLog(l hclog.Logger) {
	log.SetFlags(0)
	log.SetPrefix("")
	log.SetOutput(l.Named("stdlog").StandardWriter(&hclog.StandardLoggerOptions{ForceLevel: hclog.Warn}))
}

// startProfiles writes a CPU profile to $FERRY_CPUPROFILE and a heap
// profile to $FERRY_MEMPROFILE (for `go tool pprof`), when set: how the
// figures in docs/performance.md are explained.
func startProfiles() (stop func()) {
	cpuPath, memPath := os.Getenv("FERRY_CPUPROFILE"), os.Getenv("FERRY_MEMPROFILE")
	var cpu *os.File
	if cpuPath != "" {
		f, err := os.Create(cpuPath)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "Warning: FERRY_CPUPROFILE: %v\n", err)
		} else {
			cpu = f
		}
	}
	return func() {
		if cpu != nil {
			pprof.StopCPUProfile()
			cpu.Close()
		}
		if memPath != "" {
			f, err := os.Create(memPath)
			if err == nil {
				runtime.GC()
				err = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "Warning: FERRY_MEMPROFILE: %v\n", err)
			}
		}
	}
}
