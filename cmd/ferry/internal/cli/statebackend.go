package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/state"
	"github.com/ferry-mirror/ferry/state/s3backend"
)

// backendTypes are the state backend types this build accepts, for
// config.Load.
func backendTypes() map[string]config.BackendDecoder {
	return map[string]config.BackendDecoder{"s3": s3backend.Decode}
}

// remoteState is the state the configuration keeps in a backend; ok is
// false for a local state file.
func (a *app) remoteState(cfg *config.Backend) (r state.Remote, ok bool, err error) {
	if cfg == nil {
		return state.Remote{}, false, nil
	}
	switch s := cfg.Settings.(type) {
	case *s3backend.Config:
		store, err := s3backend.New(s, "ferry/"+Version)
		if err != nil {
			return state.Remote{}, false, &exitError{code: ExitError, err: err}
		}
		return store.Remote(), true, nil
	}
	return state.Remote{}, false, &exitError{code: ExitError, err: fmt.Errorf("state backend %q is not supported by this build", cfg.Type)}
}

// openRemoteState is openState for a state in a backend: the lock object
// (never taken over: only `ferry state unlock ID` breaks it), then the
// state, every write of which is conditional on the object read.
func openRemoteState(ctx context.Context, r state.Remote, op string, lf lockFlags) (*stateSession, error) {
	s := &stateSession{path: r.URL()}
	if lf.lock {
		l, err := state.LockRemote(ctx, r, op, Version, lf.timeout)
		if err != nil {
			return nil, &exitError{code: ExitError, err: err}
		}
		s.lock = l
	}
	m, st, err := state.OpenRemote(ctx, r, Version)
	if err != nil {
		s.close()
		return nil, &exitError{code: ExitError, err: err}
	}
	s.manager, s.state, s.existed = m, st, m.Exists()
	return s, nil
}

// readState reads the configured state (file or backend) without locking,
// for show and state list; ErrNoState when there is none yet.
func (a *app) readState(cfg *config.Config) (*state.State, error) {
	r, ok, err := a.remoteState(cfg.Settings.Backend)
	if err != nil {
		return nil, err
	}
	if ok {
		return state.ReadRemote(a.ctx, r)
	}
	return state.Read(statePath(cfg))
}

// forceUnlock is `ferry state unlock ID` for the configured state.
func (a *app) forceUnlock(cfg *config.Config, id string) error {
	r, ok, err := a.remoteState(cfg.Settings.Backend)
	if err != nil {
		return err
	}
	if ok {
		return state.ForceUnlockRemote(a.ctx, r, id)
	}
	return state.ForceUnlock(statePath(cfg), id)
}

func (a *app) newStatePullCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "pull",
		Short: "Print the state (from the backend, or the local file) to stdout",
		Long: `Pull prints the configured state as stored, after checking it reads (the
same refusals as every command: corrupt, newer format). With no state yet it
fails. It takes no lock.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig(nil)
			if err != nil {
				return err
			}
			r, ok, err := a.remoteState(cfg.Settings.Backend)
			if err != nil {
				return err
			}
			var data []byte
			if ok {
				data, err = state.PullRemote(a.ctx, r)
			} else {
				path := statePath(cfg)
				if _, err = state.Read(path); err == nil {
					data, err = os.ReadFile(path)
				}
			}
			if err != nil {
				return &exitError{code: ExitError, err: err}
			}
			_, err = a.raw.Out.Write(data)
			return err
		},
	}
}

func (a *app) newStatePushCommand() *cobra.Command {
	var lf lockFlags
	cmd := &cobra.Command{
		Use:   "push FILE",
		Short: "Replace the configured state with a state file (migrating a local state to a backend)",
		Long: `Push writes the state file FILE to the configured state (the backend, or the
local file), under the lock, keeping FILE's lineage and serial. FILE is
checked as every state is read. Into an existing state it must have the same
lineage and a higher serial (an older copy would undo writes); pushing the same
state again changes nothing.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, err := state.Read(args[0])
			if errors.Is(err, state.ErrNoState) {
				return &exitError{code: ExitError, err: fmt.Errorf("state push: %s: %w", args[0], os.ErrNotExist)}
			}
			if err != nil {
				return &exitError{code: ExitError, err: err}
			}
			cfg, err := a.loadConfig(nil)
			if err != nil {
				return err
			}
			sess, err := a.openState(statePath(cfg), "state push", lf)
			if err != nil {
				return err
			}
			defer sess.close()
			changed, err := sess.manager.Push(src)
			if err != nil {
				return &exitError{code: ExitError, err: fmt.Errorf("state push: %w", err)}
			}
			if !changed {
				fmt.Fprintf(a.streams.Out, "%s already holds this state (lineage %s, serial %d): nothing pushed.\n", sess.path, src.Lineage, src.Serial)
				return nil
			}
			fmt.Fprintf(a.streams.Out, "Pushed state lineage %s, serial %d (%d artifacts) to %s.\n", src.Lineage, src.Serial, src.ArtifactCount(), sess.path)
			return nil
		},
	}
	addLockFlags(cmd.Flags(), &lf)
	return cmd
}
