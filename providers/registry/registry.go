// Package registry is the one factory shape for every source and
// destination type: how a provider's block decodes (schema.Type) and how a
// decoded block becomes a provider. The list of types a build accepts lives
// in providers/all; this package holds no list and no state.
package registry

import (
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"

	"github.com/ferry-mirror/ferry/planner/config/schema"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/httpx"
)

// Env is what a provider constructor may use from the command that builds
// it. Every field is optional; the zero Env builds a working provider with
// no logging, no cache and default HTTP settings.
type Env struct {
	// HTTP is the shared HTTP client. Providers that need their own
	// transport (OCI's TLS settings) build one from UserAgent and
	// IdleTimeout instead. nil: the provider's default client.
	HTTP *httpx.Client
	// Logger is already named for the provider instance
	// ("source", "source", addr). nil: nothing is logged.
	Logger hclog.Logger
	// Getenv reads the environment (credentials files and their ${VAR}
	// references). nil: os.Getenv.
	Getenv func(string) string
	// CacheDir returns the directory where providers of kind ("npm") keep
	// documents between commands; "" keeps none. nil: nothing is cached.
	CacheDir func(kind string) string
	// UserAgent is sent with every request when set.
	UserAgent string
	// IdleTimeout bounds how long an HTTP response body may deliver no
	// byte; 0: the HTTP client's default.
	IdleTimeout time.Duration
	// MaxArtifactSize is the ferry block's max_artifact_size: the bound on
	// what a provider downloads without a declared size; 0: its default.
	MaxArtifactSize int64
}

// Type is one source or destination type: the schema.Type the config
// loader decodes with, and the constructor for the decoded settings. Build
// one with Source or Destination; the zero Type is not usable.
//
// What a type declares about itself beyond decoding and construction
// (capabilities, limits, the ecosystem's version order) belongs here as
// named fields, set by the provider's SourceType/DestinationType.
type Type struct {
	schema.Type

	newSource      func(addr string, settings any, env Env) (providers.Source, error)
	newDestination func(addr string, settings any, env Env) (providers.Destination, error)
}

// Source is the source type name: decode turns its block into *C, newFn
// builds the source from it.
func Source[C any, S providers.Source](name string,
	decode func(hcl.Body, *hcl.EvalContext, schema.DecodeEnv) (*C, hcl.Diagnostics),
	newFn func(addr string, c *C, env Env) (S, error),
) Type {
	return Type{
		Type: schema.Type{Kind: schema.KindSource, Name: name, Decode: decodeAny(decode)},
		newSource: func(addr string, settings any, env Env) (providers.Source, error) {
			c, err := settingsOf[C](schema.KindSource, addr, settings)
			if err != nil {
				return nil, err
			}
			return newFn(addr, c, env)
		},
	}
}

// Destination is the destination type name: decode turns its block into
// *C, newFn builds the destination from it.
func Destination[C any, D providers.Destination](name string,
	decode func(hcl.Body, *hcl.EvalContext, schema.DecodeEnv) (*C, hcl.Diagnostics),
	newFn func(addr string, c *C, env Env) (D, error),
) Type {
	return Type{
		Type: schema.Type{Kind: schema.KindDestination, Name: name, Decode: decodeAny(decode)},
		newDestination: func(addr string, settings any, env Env) (providers.Destination, error) {
			c, err := settingsOf[C](schema.KindDestination, addr, settings)
			if err != nil {
				return nil, err
			}
			return newFn(addr, c, env)
		},
	}
}

// NewSource builds the source at addr ("http.tools") from the settings this
// type's Decode returned.
func (t Type) NewSource(addr string, settings any, env Env) (providers.Source, error) {
	if t.newSource == nil {
		return nil, fmt.Errorf("source %s: %q is not a source type", addr, t.Name)
	}
	return t.newSource(addr, settings, env)
}

// NewDestination builds the destination at addr ("dir.local") from the
// settings this type's Decode returned.
func (t Type) NewDestination(addr string, settings any, env Env) (providers.Destination, error) {
	if t.newDestination == nil {
		return nil, fmt.Errorf("destination %s: %q is not a destination type", addr, t.Name)
	}
	return t.newDestination(addr, settings, env)
}

// Find returns the type of kind named name from types.
func Find(types []Type, kind schema.Kind, name string) (Type, bool) {
	for _, t := range types {
		if t.Kind == kind && t.Name == name {
			return t, true
		}
	}
	return Type{}, false
}

// Schemas returns the decode half of types, for config.LoadOptions.Types.
func Schemas(types []Type) []schema.Type {
	out := make([]schema.Type, len(types))
	for i, t := range types {
		out[i] = t.Type
	}
	return out
}

// decodeAny adapts a typed decoder to schema.Type.Decode. A nil *C stays an
// untyped nil, so "no settings" reads the same as before the adaptation.
func decodeAny[C any](decode func(hcl.Body, *hcl.EvalContext, schema.DecodeEnv) (*C, hcl.Diagnostics)) func(hcl.Body, *hcl.EvalContext, schema.DecodeEnv) (any, hcl.Diagnostics) {
	return func(body hcl.Body, ectx *hcl.EvalContext, env schema.DecodeEnv) (any, hcl.Diagnostics) {
		c, diags := decode(body, ectx, env)
		if c == nil {
			return nil, diags
		}
		return c, diags
	}
}

// settingsOf checks that settings came from this type's decoder.
func settingsOf[C any](kind schema.Kind, addr string, settings any) (*C, error) {
	c, ok := settings.(*C)
	if !ok || c == nil {
		return nil, fmt.Errorf("%s %s: settings are %T, want %T", kind, addr, settings, c)
	}
	return c, nil
}

// Client is e.HTTP, or a client with e's UserAgent and IdleTimeout when it
// is nil.
func (e Env) Client() *httpx.Client {
	if e.HTTP != nil {
		return e.HTTP
	}
	return httpx.New(httpx.Options{Logger: e.Log().Named("http"), UserAgent: e.UserAgent, IdleTimeout: e.IdleTimeout})
}

// Log is e.Logger, or a logger that discards everything when it is nil.
func (e Env) Log() hclog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return hclog.NewNullLogger()
}
