package oci

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"

	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/ferry-mirror/ferry/providers"
)

// DefaultTagListPageSize is the n a destination asks a tags list page for:
// distribution 3 refuses more than 1,000 by default, and without n
// distribution 2 answers every tag in one document.
const DefaultTagListPageSize = 1000

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
	for _, name := range slices.Sorted(maps.Keys(byRepo)) {
		ks := byRepo[name]
		if len(ks) == 1 {
			if err := unknown(ks[0]); err != nil {
				return err
			}
			continue
		}
		tags, err := s.listTags(ctx, repos[name])
		if err != nil {
			if ctx.Err() != nil {
				return s.opErr("list", name, ctx.Err())
			}
			s.log.Debug("tags list failed; the repository's keys are stat'ed one by one", "repository", name, "error", err)
			tags = nil
		}
		for _, key := range ks {
			if tags != nil && !tags[Tag(key)] {
				continue // absent
			}
			if err := unknown(key); err != nil {
				return err
			}
		}
	}
	return nil
}

// listTags is the set of r's tags, empty for a repository the registry does
// not know, nil with an error when the registry did not answer a listing.
func (s *Store) listTags(ctx context.Context, r *repository) (map[string]bool, error) {
	tags := map[string]bool{}
	err := r.remote.Tags(ctx, "", func(page []string) error {
		for _, t := range page {
			tags[t] = true
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
