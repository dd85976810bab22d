// Command latencyproxy puts a fixed delay in front of an HTTP server on
// this machine, as if it were a WAN round trip away: every request (each
// one on a keep-alive connection too) waits -delay, then is forwarded
// with its Host header unchanged; bodies stream through unbuffered. The
// bench's sharded-apply scenario runs it in front of versitygw, the
// registry and the upstream file server (docs/performance.md).
//
//	go run ./bench/latencyproxy -target http://127.0.0.1:7070 -listen 127.0.0.1:7071 -delay 20ms
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ferry-mirror/ferry/bench/internal/latencyproxy"
)

func main() {
	target := flag.String("target", "", "the server to forward to, http://HOST:PORT")
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	delay := flag.Duration("delay", 20*time.Millisecond, "delay added to every request")
	flag.Parse()
	if *target == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: latencyproxy -target http://HOST:PORT [-listen ADDR] [-delay 20ms]")
		os.Exit(2)
	}
	s, err := latencyproxy.Start(*listen, *target, *delay)
	if err != nil {
		fmt.Fprintln(os.Stderr, "latencyproxy:", err)
		os.Exit(1)
	}
	fmt.Printf("%s -> %s, %v a request\n", s.URL, *target, *delay)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(sctx)
	}()
	if err := s.Wait(); err != nil {
		fmt.Fprintln(os.Stderr, "latencyproxy:", err)
		os.Exit(1)
	}
	fmt.Printf("%d requests forwarded\n", s.Requests())
}
