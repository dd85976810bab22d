// Package cli is ferry's command tree. It is built per invocation with no
// package-level state: streams, environment and context come in through
// Execute.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ferry-mirror/ferry/planner/config"
)

// Version is ferry's version, recorded in plans and state.
const Version = "0.1.0"

// Exit codes.
const (
	ExitOK      = 0
	ExitError   = 1
	ExitChanges = 2 // plan -detailed-exitcode: success with changes
	ExitFmt     = 3 // fmt -check: files need formatting
	// ExitInterrupted: ferry run stopped by SIGINT or SIGTERM (128 +
	// SIGINT, as shells report an interrupted command).
	ExitInterrupted = 130
)

// Streams are the process's standard streams.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// exitError carries a specific exit code through cobra.
type exitError struct {
	code int
	err  error // nil when the message was already printed
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

// silent is an error whose details were already shown to the user.
func silent(code int) error { return &exitError{code: code} }

// app is what every command shares for one invocation.
type app struct {
	ctx context.Context
	// streams are the process's streams with Out and Err escaping control
	// characters (escapeWriter): everything a person reads goes there.
	streams Streams
	// raw are the process's streams as given, for JSON, fmt -diff and the
	// progress bar.
	raw     Streams
	env     []string
	chdir   string
	logger  hclog.Logger
	logFile io.Closer
	// onLogger receives the logger once FERRY_LOG and FERRY_LOG_PATH are
	// applied (see WithLoggerHook).
	onLogger func(hclog.Logger)
	// signalCh delivers SIGINT and SIGTERM (WithSignals); sig handles them.
	signalCh <-chan os.Signal
	sig      *signals
	// obs receives plan and apply results (-metrics-file, ferry run); nil:
	// nobody listens.
	obs *observers

	// backend is the state backend of the configuration loadConfig loaded
	// last; nil: the local state file.
	backend *config.Backend
}

// Option configures one Execute.
type Option func(*app)

// WithLoggerHook makes Execute hand f the invocation's logger as soon as it
// is built, before any command runs. main uses it to send the standard
// library's logger (net/http and some libraries write to it) through
// FERRY_LOG and FERRY_LOG_PATH: configuring the process is main's job, and
// this package keeps no process-wide state.
func WithLoggerHook(f func(hclog.Logger)) Option { return func(a *app) { a.onLogger = f } }

func (a *app) getenv(name string) string {
	for i := len(a.env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(a.env[i], "="); ok && k == name {
			return v
		}
	}
	return ""
}

// isTerminal reports whether w (or r) is an interactive terminal.
func isTerminal(f any) bool {
	if fd, ok := f.(interface{ Fd() uintptr }); ok {
		return term.IsTerminal(int(fd.Fd()))
	}
	return false
}

// newApp is the app of one invocation, its human output escaped.
func newApp(ctx context.Context, streams Streams, env []string) *app {
	return &app{ctx: ctx, raw: streams, env: env, streams: Streams{
		In:  streams.In,
		Out: escapeWriter{streams.Out},
		Err: escapeWriter{streams.Err},
	}}
}

// Execute runs ferry with args and returns the process exit code.
func Execute(ctx context.Context, args []string, streams Streams, env []string, opts ...Option) int {
	a := newApp(ctx, streams, env)
	for _, o := range opts {
		o(a)
	}
	if a.signalCh != nil {
		ctx, cancel := context.WithCancel(a.ctx)
		defer cancel()
		a.ctx, a.sig = ctx, &signals{cancel: cancel}
		go func() {
			for {
				select {
				case sig := <-a.signalCh:
					a.sig.handle(sig)
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	defer func() {
		if a.logFile != nil {
			a.logFile.Close()
		}
	}()
	root := a.newRootCommand()
	root.SetArgs(normalizeArgs(args))
	root.SetIn(a.streams.In)
	root.SetOut(a.streams.Out)
	root.SetErr(a.streams.Err)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(a.streams.Err, "Error: %s\n", ee.err)
		}
		return ee.code
	}
	fmt.Fprintf(a.streams.Err, "Error: %s\n", err)
	return ExitError
}

// singleDash matches Terraform-style long flags written with one dash
// (-detailed-exitcode, -out=plan.json); cobra wants two.
var singleDash = regexp.MustCompile(`^-[a-z][a-z0-9-]+(=.*)?$`)

// normalizeArgs rewrites -long-flag to --long-flag so both spellings work,
// leaving everything after "--" alone.
func normalizeArgs(args []string) []string {
	out := make([]string, 0, len(args))
	for i, arg := range args {
		if arg == "--" {
			return append(out, args[i:]...)
		}
		if singleDash.MatchString(arg) {
			arg = "-" + arg
		}
		out = append(out, arg)
	}
	return out
}

func (a *app) newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "ferry",
		Short: "Mirror packages from upstream sources into internal registries, plan first",
		Long: `ferry mirrors packages from upstream sources into internal registries.
HCL files (*.ferry.hcl) declare the mirrors and their retention; "ferry plan"
computes every transfer and deletion against the state file and the live
destination, and "ferry apply" executes that plan, verifying every byte.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if a.chdir != "" {
				if err := os.Chdir(a.chdir); err != nil {
					return &exitError{code: ExitError, err: fmt.Errorf("-chdir: %w", err)}
				}
			}
			return a.setupLogger()
		},
	}
	root.PersistentFlags().StringVar(&a.chdir, "chdir", "", "switch to `DIR` before doing anything else")
	root.AddCommand(
		a.newInitCommand(),
		a.newValidateCommand(),
		a.newFmtCommand(),
		a.newPlanCommand(),
		a.newApplyCommand(),
		a.newImportCommand(),
		a.newShowCommand(),
		a.newStateCommand(),
		a.newRunCommand(),
		a.newVersionCommand(),
	)
	return root
}

// setupLogger builds the one logger from FERRY_LOG (level, default warn) and
// FERRY_LOG_PATH (a file instead of stderr). Logs never go to stdout.
func (a *app) setupLogger() error {
	level := hclog.Warn
	if v := a.getenv("FERRY_LOG"); v != "" {
		level = hclog.LevelFromString(v)
		if level == hclog.NoLevel {
			return &exitError{code: ExitError, err: fmt.Errorf("FERRY_LOG=%q: want trace, debug, info, warn, error or off", v)}
		}
	}
	var out io.Writer = a.streams.Err
	if p := a.getenv("FERRY_LOG_PATH"); p != "" {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return &exitError{code: ExitError, err: fmt.Errorf("FERRY_LOG_PATH: %w", err)}
		}
		a.logFile = f
		out = f
	}
	a.logger = hclog.New(&hclog.LoggerOptions{
		Name:   "ferry",
		Level:  level,
		Output: out,
		Color:  hclog.ColorOff,
	})
	if a.onLogger != nil {
		a.onLogger(a.logger)
	}
	return nil
}

func (a *app) newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print ferry's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(a.streams.Out, "ferry %s\n", Version)
			return nil
		},
	}
}
