package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// measurement is one whole-process run: wall time and peak RSS. Peak RSS
// is the measured process's rusage ru_maxrss, which on Linux is the largest
// resident set of the process or of any descendant it waited for (not a
// sum): for a script it is the biggest single process of the run.
//
// The rusage comes from GNU time (/usr/bin/time -f '%U %S %M'), which fork()s and
// exec()s the command. Reading the rusage of a direct child of this Go
// process would be wrong: Go starts children with vfork (CLONE_VM), and
// Linux carries the parent's resident set into the child's ru_maxrss at
// exec, so every figure would be at least this harness's own RSS.
type measurement struct {
	Wall   time.Duration
	MaxRSS int64         // bytes
	CPU    time.Duration // user + system time of the process and its waited-for descendants
}

// run executes name args in dir with env added, and fails with the output
// when the command fails.
func run(dir string, env []string, name string, args ...string) (measurement, error) {
	return runExpect(dir, env, []int{0}, name, args...)
}

// runExpect is run accepting the exit codes in ok.
func runExpect(dir string, env []string, ok []int, name string, args ...string) (measurement, error) {
	rssFile, err := os.CreateTemp("", "bench-rss-")
	if err != nil {
		return measurement{}, err
	}
	rssFile.Close()
	defer os.Remove(rssFile.Name())
	cmd := exec.Command(timeBin, append([]string{"-f", "%U %S %M", "-o", rssFile.Name(), "--", name}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Its own process group, so an interrupted harness can stop the whole
	// tree (xargs and the scripts' children) with one signal.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err = cmd.Start(); err == nil {
		current.Store(int64(cmd.Process.Pid))
		err = cmd.Wait()
		current.Store(0)
	}
	wall := time.Since(start)
	m := measurement{Wall: wall}
	if b, rerr := os.ReadFile(rssFile.Name()); rerr == nil {
		// GNU time prints "Command exited with non-zero status N" first
		// when the command fails; the figure is the last line.
		// fields: user seconds, system seconds, peak RSS in KiB.
		f := strings.Fields(string(b))
		if len(f) >= 3 {
			if kb, perr := strconv.ParseInt(f[len(f)-1], 10, 64); perr == nil {
				m.MaxRSS = kb * 1024
			}
			u, uerr := strconv.ParseFloat(f[len(f)-3], 64)
			sy, serr := strconv.ParseFloat(f[len(f)-2], 64)
			if uerr == nil && serr == nil {
				m.CPU = time.Duration((u + sy) * float64(time.Second))
			}
		}
	}
	code := -1
	if cmd.ProcessState != nil {
		code = cmd.ProcessState.ExitCode()
	}
	for _, c := range ok {
		if c == code {
			if *verbose {
				fmt.Fprintf(os.Stderr, "    $ %s %s (%.2fs, %s, CPU %.2fs)\n", name, strings.Join(args, " "), wall.Seconds(), fmtBytes(m.MaxRSS), m.CPU.Seconds())
			}
			return m, nil
		}
	}
	tail := out.String()
	if len(tail) > 4000 {
		tail = "…" + tail[len(tail)-4000:]
	}
	return m, fmt.Errorf("%s %s: exit %d (%v)\n%s", name, strings.Join(args, " "), code, err, tail)
}

// median returns the median run by wall time, with the median peak RSS.
// current is the process group of the running measurement, 0 if none.
var current atomic.Int64

// stopOnSignal kills the running measurement's process group and exits
// when the harness is interrupted (the deferred cleanups do not run; the
// registries die with their Pdeathsig).
func stopOnSignal() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-ch
		if pg := current.Load(); pg != 0 {
			_ = syscall.Kill(-int(pg), syscall.SIGKILL)
		}
		fmt.Fprintf(os.Stderr, "bench: %v: stopped\n", sig)
		os.Exit(1)
	}()
}

// timeBin is GNU time (Debian package "time").
const timeBin = "/usr/bin/time"

func median(ms []measurement) measurement {
	if len(ms) == 0 {
		return measurement{}
	}
	w := make([]time.Duration, len(ms))
	c := make([]time.Duration, len(ms))
	r := make([]int64, len(ms))
	for i, m := range ms {
		w[i], c[i], r[i] = m.Wall, m.CPU, m.MaxRSS
	}
	slices.Sort(w)
	slices.Sort(c)
	slices.Sort(r)
	n := len(ms)
	if n%2 == 1 {
		return measurement{Wall: w[n/2], MaxRSS: r[n/2], CPU: c[n/2]}
	}
	return measurement{Wall: (w[n/2-1] + w[n/2]) / 2, MaxRSS: (r[n/2-1] + r[n/2]) / 2, CPU: (c[n/2-1] + c[n/2]) / 2}
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
