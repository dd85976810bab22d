package oci

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"

	"golang.org/x/sync/errgroup"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/ferry-mirror/ferry/providers"
)

// DefaultTagListPageSize is the n a destination asks a tags list page for:
// distribution 3 refuses more than 1,000 by default, and without n
// distribution 2 answers every tag in one document.
const DefaultTagListPageSize = 1000

// listConcurrency is how many repositories ListStatKeys lists at once: the
// inventory holds one of the destination's connections for the whole
// listing, and a template spreading keys over hundreds of repositories
// should not list them one round trip after another.
const listConcurrency = 4

var _ providers.KeyListStater = (*Store)(nil)

// ListStatKeys reports which of keys have their tag (Tag(key)) in the
// repository their key names, from one tags list per repository (GET
// /v2/<repository>/tags/list, paged by n and the Link header): a refresh
// asks once per repository instead of once per key. A tags list carries
// no digests, so a key whose tag is listed is reported without any, and
// the inventory reads its manifest (Stat or StatGraph) as before; a key
// whose tag is not listed is not reported: its tag does not exist. A
// repository the registry does not know (NAME_UNKNOWN) holds nothing.
//
// Left to Stat (reported without digests, so that Stat answers exactly as
// before): a key Stat would refuse (invalid, or one the repository
// template cannot place), the only key asked about in its repository (its
// listing would cost the request its Stat costs, and one more when the
// tag exists), and the keys of a repository whose listing failed or was
// refused (a registry may deny listing to a token that may pull).
func (s *Store) ListStatKeys(ctx context.Context, keys []string, fn func(providers.Artifact) error) error {
	byRepo := map[string][]string{}
	repos := map[string]*repository{}
	unknown := func(key string) error { return fn(providers.Artifact{Key: key, Size: -1}) }
	for _, key := range keys {
		if checkKey(key) != nil {
			if err := unknown(key); err != nil {
				return err
			}
			continue
		}
		r, err := s.repoFor(key)
		if err != nil {
			if err := unknown(key); err != nil {
				return err
			}
			continue
		}
		byRepo[r.name] = append(byRepo[r.name], key)
		repos[r.name] = r
	}
	// List the repositories a few at a time (a template may name many),
	// then report in order: fn need not be safe for concurrent use.
	names := slices.Sorted(maps.Keys(byRepo))
	tags := make([]map[string]bool, len(names))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(listConcurrency)
	for i, name := range names {
		if len(byRepo[name]) == 1 {
			continue
		}
		g.Go(func() error {
			want := map[string]bool{}
			for _, key := range byRepo[name] {
				want[Tag(key)] = true
			}
			t, err := s.listTags(gctx, repos[name], want)
			if err != nil {
				if ctx.Err() != nil {
					return s.opErr("list", name, ctx.Err())
				}
				s.log.Debug("tags list failed; the repository's keys are stat'ed one by one", "repository", name, "error", err)
				return nil
			}
			tags[i] = t
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i, name := range names {
		for _, key := range byRepo[name] {
			if tags[i] != nil && !tags[i][Tag(key)] {
				continue // absent
			}
			if err := unknown(key); err != nil {
				return err
			}
		}
	}
	return nil
}

// listTags is the set of r's tags among want (memory stays bounded by the
// keys asked about, whatever the registry lists), empty for a repository
// the registry does not know, nil with an error when the registry did not
// answer a listing or its pages went on past maxTagPages.
func (s *Store) listTags(ctx context.Context, r *repository, want map[string]bool) (map[string]bool, error) {
	tags := map[string]bool{}
	err := r.remote.Tags(ctx, "", func(page []string) error {
		for _, t := range page {
			if want[t] {
				tags[t] = true
			}
		}
		return nil
	})
	var er *errcode.ErrorResponse
	if errors.As(err, &er) && er.StatusCode == http.StatusNotFound && slices.ContainsFunc(er.Errors, func(e errcode.Error) bool {
		return e.Code == errcode.ErrorCodeNameUnknown
	}) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing the tags of %s/%s: %w", s.cfg.Registry, r.name, s.describe(ctx, err))
	}
	return tags, nil
}
