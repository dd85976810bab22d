package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/pflag"

	"github.com/ferry-mirror/ferry/planner/apply"
	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/planner/config/schema"
	"github.com/ferry-mirror/ferry/planner/plan"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/all"
	"github.com/ferry-mirror/ferry/providers/httpx"
	"github.com/ferry-mirror/ferry/providers/registry"
	"github.com/ferry-mirror/ferry/state"
)

// providerTypes are the source and destination types this build accepts,
// for config.Load.
func providerTypes() []schema.Type { return registry.Schemas(all.Types()) }

// varFlags collects -var and -var-file in command-line order (the order is
// the precedence).
type varFlags struct {
	args *[]config.VarArg
	file bool
}

func (v varFlags) String() string { return "" }
func (v varFlags) Type() string {
	if v.file {
		return "file"
	}
	return "name=value"
}
func (v varFlags) Set(s string) error {
	*v.args = append(*v.args, config.VarArg{File: v.file, Value: s})
	return nil
}

func addVarFlags(fs *pflag.FlagSet, args *[]config.VarArg) {
	fs.Var(varFlags{args: args}, "var", "set a variable (repeatable; later wins)")
	fs.Var(varFlags{args: args, file: true}, "var-file", "load variables from an HCL `file` (repeatable; later wins)")
}

// loadConfig loads the working directory's config and renders its
// diagnostics. It returns a silent error when there are errors.
// loadConfigForPlan loads the configuration a saved plan at path is
// applied with, refusing it when the plan was made from another one.
func (a *app) loadConfigForPlan(path string, p *plan.Plan, vars []config.VarArg) (*config.Config, error) {
	cfg, err := a.loadConfig(vars)
	if err != nil {
		return nil, err
	}
	if p.ConfigDigest != cfg.Digest {
		return nil, &exitError{code: ExitError, err: fmt.Errorf("saved plan %s is stale: the configuration (or a non-sensitive variable) changed since it was made; "+
			"pass the same -var and -var-file values as to plan, or run ferry plan again", path)}
	}
	return cfg, nil
}

func (a *app) loadConfig(vars []config.VarArg) (*config.Config, error) {
	cfg, _, err := a.loadConfigDiags(vars)
	return cfg, err
}

// loadConfigDiags is loadConfig with the diagnostics, which ferry run
// shows on its status page too.
func (a *app) loadConfigDiags(vars []config.VarArg) (*config.Config, hcl.Diagnostics, error) {
	return a.loadConfigWith(vars, nil)
}

// loadConfigWith is loadConfigDiags calling settingsDecoded as
// config.LoadOptions.SettingsDecoded says.
func (a *app) loadConfigWith(vars []config.VarArg, settingsDecoded func(config.Settings, string)) (*config.Config, hcl.Diagnostics, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, nil, err
	}
	cfg, diags := config.Load(config.LoadOptions{Dir: wd, Env: a.env, Vars: vars, Types: providerTypes(), Backends: backendTypes(), SettingsDecoded: settingsDecoded})
	a.renderDiags(cfg, diags)
	if diags.HasErrors() {
		return cfg, diags, silent(ExitError)
	}
	a.backend = cfg.Settings.Backend
	return cfg, diags, nil
}

// renderDiags writes diagnostics to stderr with file:line:col and the source line.
func (a *app) renderDiags(cfg *config.Config, diags hcl.Diagnostics) {
	if len(diags) == 0 {
		return
	}
	var files map[string]*hcl.File
	if cfg != nil {
		files = cfg.Files
	}
	wd, _ := os.Getwd()
	writeDiagnostics(a.streams.Err, files, diags, wd)
}

// jsonDiagnostic is the machine form of a diagnostic (validate -json).
type jsonDiagnostic struct {
	Severity string     `json:"severity"`
	Summary  string     `json:"summary"`
	Detail   string     `json:"detail,omitempty"`
	Range    *jsonRange `json:"range,omitempty"`
}

type jsonRange struct {
	Filename string  `json:"filename"`
	Start    jsonPos `json:"start"`
	End      jsonPos `json:"end"`
}

type jsonPos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

func toJSONDiags(diags hcl.Diagnostics) []jsonDiagnostic {
	out := []jsonDiagnostic{}
	for _, d := range diags {
		jd := jsonDiagnostic{Severity: "error", Summary: d.Summary, Detail: d.Detail}
		if d.Severity == hcl.DiagWarning {
			jd.Severity = "warning"
		}
		if d.Subject != nil {
			jd.Range = &jsonRange{
				Filename: d.Subject.Filename,
				Start:    jsonPos{Line: d.Subject.Start.Line, Column: d.Subject.Start.Column, Byte: d.Subject.Start.Byte},
				End:      jsonPos{Line: d.Subject.End.Line, Column: d.Subject.End.Column, Byte: d.Subject.End.Byte},
			}
		}
		out = append(out, jd)
	}
	return out
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// statePath is where the config says the state lives.
func statePath(cfg *config.Config) string { return statePathIn(cfg.Settings, cfg.Dir) }

// statePathIn is the local state file settings name, under the
// configuration directory dir unless absolute.
func statePathIn(s config.Settings, dir string) string {
	p := s.StatePath
	if p == "" {
		p = config.DefaultStatePath
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	return p
}

// lockFlags are the locking flags shared by commands that read or write state.
type lockFlags struct {
	lock    bool
	timeout time.Duration
}

func addLockFlags(fs *pflag.FlagSet, l *lockFlags) {
	fs.BoolVar(&l.lock, "lock", true, "lock the state while the command runs")
	fs.DurationVar(&l.timeout, "lock-timeout", 0, "how long to retry acquiring a held state lock (e.g. 30s)")
}

// stateSession is the open state of one command, under its lock.
type stateSession struct {
	path    string
	manager *state.Manager
	state   *state.State
	// existed is false when there was no state file yet.
	existed bool
	lock    *state.HeldLock
	// cp, when set, persists the apply's checkpoints instead of manager
	// (a shard merging its records into the shared state).
	cp apply.Checkpointer
	// result is what execute's apply did.
	result *apply.Result
}

func (s *stateSession) close() {
	if s.lock != nil {
		_ = s.lock.Unlock()
	}
}

// openState locks (unless -lock=false) and reads the state.
// A configuration with a backend (the last one loadConfig loaded) keeps
// the state there instead (openRemoteState).
func (a *app) openState(path, op string, lf lockFlags) (*stateSession, error) {
	return a.openStateAt(a.ctx, a.backend, path, op, lf, a.streams.Err)
}

// openStateAt is openState for the given backend, writing its warning (a
// lock taken over) to warn: loadConfigAndState runs it beside the
// configuration's decoding, which must not share a.backend or stderr.
func (a *app) openStateAt(ctx context.Context, backend *config.Backend, path, op string, lf lockFlags, warn io.Writer) (*stateSession, error) {
	if r, ok, err := a.remoteState(backend); err != nil || ok {
		if err != nil {
			return nil, err
		}
		s, err := openRemoteState(ctx, r, op, lf)
		if err == nil && op == "plan" {
			s.manager.ReadOnly()
		}
		return s, err
	}
	s := &stateSession{path: path}
	if lf.lock {
		l, err := state.Lock(ctx, path, op, Version, lf.timeout)
		if err != nil {
			return nil, &exitError{code: ExitError, err: err}
		}
		s.lock = l
		if prev := l.TookOver(); prev != nil {
			fmt.Fprintf(warn, "Warning: took over the state lock of %s (pid %d, operation %s) since %s, lock ID %s: its process is gone from this host (killed or crashed).\n",
				prev.Who, prev.PID, prev.Operation, prev.Created.UTC().Format(time.RFC3339), prev.ID)
		}
	}
	_, statErr := os.Stat(path)
	s.existed = statErr == nil
	m, st, err := state.Open(path, Version)
	if err != nil {
		s.close()
		return nil, &exitError{code: ExitError, err: err}
	}
	if op == "plan" {
		m.ReadOnly() // a plan never writes the state: keep no second copy of it
	}
	s.manager, s.state = m, st
	return s, nil
}

// loadConfigAndState is loadConfig then openState, except that the state
// is read while the source and destination blocks decode: where it is
// kept is known once the ferry block is, and an artifacts_file of 10^5
// rows takes about as long to read as the state that records them, so on
// two cores the two overlap. A configuration with errors is reported as
// loadConfig reports it; a state opened meanwhile is closed unused (a
// wait for its lock cancelled).
func (a *app) loadConfigAndState(vars []config.VarArg, op string, lf lockFlags) (*config.Config, *stateSession, error) {
	type opened struct {
		sess *stateSession
		err  error
	}
	ctx, cancel := context.WithCancel(a.ctx)
	defer cancel()
	var (
		early chan opened
		warn  bytes.Buffer
	)
	cfg, _, err := a.loadConfigWith(vars, func(s config.Settings, dir string) {
		early = make(chan opened, 1)
		go func() {
			sess, err := a.openStateAt(ctx, s.Backend, statePathIn(s, dir), op, lf, &warn)
			early <- opened{sess, err}
		}()
	})
	switch {
	case early == nil && err != nil: // the ferry block had errors
		return nil, nil, err
	case early == nil: // not reached: Load calls SettingsDecoded unless the ferry block has errors
		sess, err := a.openState(statePath(cfg), op, lf)
		return cfg, sess, err
	case err != nil:
		cancel()
		if o := <-early; o.sess != nil {
			o.sess.close()
		}
		return nil, nil, err
	}
	o := <-early
	_, _ = a.streams.Err.Write(warn.Bytes())
	if o.err != nil {
		return nil, nil, o.err
	}
	return cfg, o.sess, nil
}

// providerSet instantiates the configured providers once per command.
type providerSet struct {
	sources      map[string]providers.Source
	destinations map[string]providers.Destination
	// connections are the Connections the types declare, by
	// limit.Source(addr) and limit.Destination(addr), for apply and
	// inventory.
	connections map[string]int
	// replaced are the sources useCache replaced with their offline
	// versions, closed with the others.
	replaced []providers.Source
}

func (a *app) buildProviders(cfg *config.Config) (*providerSet, error) {
	types := all.Types()
	env := registry.Env{
		HTTP:        httpx.New(httpx.Options{Logger: a.logger.Named("http"), UserAgent: "ferry/" + Version, IdleTimeout: cfg.Settings.HTTPIdleTimeout}),
		Getenv:      os.Getenv,
		CacheDir:    a.cacheDir,
		UserAgent:   "ferry/" + Version,
		IdleTimeout: cfg.Settings.HTTPIdleTimeout,

		MaxArtifactSize: cfg.Settings.MaxArtifactSize,
	}
	ps := &providerSet{sources: map[string]providers.Source{}, destinations: map[string]providers.Destination{}, connections: map[string]int{}}
	for addr, s := range cfg.Sources {
		t, ok := registry.Find(types, schema.KindSource, s.Type)
		if !ok {
			return nil, &exitError{code: ExitError, err: fmt.Errorf("source %s: no source type %q in this build", addr, s.Type)}
		}
		env.Logger = a.logger.Named("source").With("source", addr)
		src, err := t.NewSource(addr, s.Settings, env)
		if err != nil {
			return nil, &exitError{code: ExitError, err: err}
		}
		ps.sources[addr] = src
		if n := t.Limits.Connections; n > 0 {
			ps.connections["source."+addr] = n
		}
	}
	for addr, d := range cfg.Destinations {
		t, ok := registry.Find(types, schema.KindDestination, d.Type)
		if !ok {
			return nil, &exitError{code: ExitError, err: fmt.Errorf("destination %s: no destination type %q in this build", addr, d.Type)}
		}
		env.Logger = a.logger.Named("destination").With("destination", addr)
		dst, err := t.NewDestination(addr, d.Settings, env)
		if err != nil {
			return nil, &exitError{code: ExitError, err: err}
		}
		ps.destinations[addr] = dst
		if n := t.Limits.Connections; n > 0 {
			ps.connections["destination."+addr] = n
		}
	}
	return ps, nil
}

// cacheDir is where providers of kind keep documents between commands:
// under $FERRY_CACHE_DIR, else the user's cache directory ("" when there is
// none: nothing is cached).
func (a *app) cacheDir(kind string) string {
	root := a.getenv("FERRY_CACHE_DIR")
	if root == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			a.logger.Debug("no cache directory", "error", err)
			return ""
		}
		root = filepath.Join(dir, "ferry")
	}
	return filepath.Join(root, kind)
}

// close releases what providers keep for the command (a source's private
// downloads): every source and destination that is an io.Closer is closed,
// a wrapped source (the air-gap wrappers) through its Unwrap chain, as the
// core finds every capability (providers.As), and so is every source
// useCache replaced; each once.
func (ps *providerSet) close() {
	closed := map[io.Closer]bool{}
	closeOnce := func(c io.Closer) {
		if reflect.TypeOf(c).Comparable() {
			if closed[c] {
				return
			}
			closed[c] = true
		}
		c.Close()
	}
	for _, s := range append(slices.Collect(maps.Values(ps.sources)), ps.replaced...) {
		if c, ok := providers.As[io.Closer](s); ok {
			closeOnce(c)
		}
	}
	for _, d := range ps.destinations {
		if c, ok := d.(io.Closer); ok {
			closeOnce(c)
		}
	}
}

func (ps *providerSet) Source(addr string) (providers.Source, error) {
	if s, ok := ps.sources[addr]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("source %s is not configured", addr)
}

func (ps *providerSet) Destination(addr string) (providers.Destination, error) {
	if d, ok := ps.destinations[addr]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("destination %s is not configured", addr)
}

// describeDestinations maps each destination address to its description.
func (ps *providerSet) describeDestinations() map[string]string {
	out := map[string]string{}
	for addr, d := range ps.destinations {
		if ds, ok := d.(providers.Describer); ok {
			out[addr] = ds.Describe()
		} else {
			out[addr] = addr
		}
	}
	return out
}

func sortedStrings(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var errNoTerminal = errors.New("apply needs confirmation, but no terminal is attached: pass -auto-approve, or apply a saved plan file")
