package npm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// FeedFormat says how a changes feed pages and where its cursor points.
type FeedFormat string

const (
	// FeedNPM is the CouchDB-style feed npmjs serves at
	// https://replicate.npmjs.com/registry/_changes: since is exclusive,
	// pages of at most limit entries end with last_seq, and requests carry
	// npm-replication-opt-in: true.
	FeedNPM FeedFormat = "npm"
	// FeedCnpmcore is cnpmcore's feed: since is inclusive (the entry at the
	// cursor comes back first), pages are a fixed 1,000 entries, no last_seq.
	FeedCnpmcore FeedFormat = "cnpmcore"
)

// ChangesFeed is where a registry publishes its changes.
type ChangesFeed struct {
	// URL is the feed itself, ending in /_changes.
	URL    string
	Format FeedFormat
	// MaxChanges bounds how many changes one plan reads; beyond it the plan
	// re-validates every document instead (a cursor months old).
	MaxChanges int
}

// DefaultMaxChanges is MaxChanges when the config sets none.
const DefaultMaxChanges = 1_000_000

// npmFeedPage is how many changes ferry asks an npm-format feed for at once
// (npmjs's documented maximum).
const npmFeedPage = 10_000

// cnpmcoreFeedPage is the fixed page size of cnpmcore's feed.
const cnpmcoreFeedPage = 1000

// errFeedOverflow reports more changes than MaxChanges.
var errFeedOverflow = errors.New("too many changes")

// feed reads one changes feed. Requests are authorised like the registry's
// own (the token only goes to URLs under the registry).
type feed struct {
	cfg ChangesFeed
	url *url.URL
	reg *registry
}

// parseFeedURL checks a changes feed URL.
func parseFeedURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, err
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("must be http or https, not %q", u.Scheme)
	case u.Host == "":
		return nil, fmt.Errorf("has no host")
	case u.User != nil:
		return nil, fmt.Errorf("must not carry credentials")
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("must not have a query or fragment (ferry adds since and limit)")
	case !strings.HasSuffix(u.Path, "/_changes"):
		return nil, fmt.Errorf("is the feed itself and ends in /_changes (like https://replicate.npmjs.com/registry/_changes)")
	}
	return u, nil
}

func (f *feed) get(ctx context.Context, rawURL string, v any) error {
	req, err := f.reg.newRequest(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return err
	}
	if f.cfg.Format == FeedNPM {
		req.Header.Set("npm-replication-opt-in", "true")
	}
	body, _, err := f.reg.send(req, 256<<20)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("GET %s: unreadable feed response: %w", f.display(rawURL), err)
	}
	return nil
}

func (f *feed) display(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return f.url.Redacted()
	}
	return u.Redacted()
}

// head is the feed's current position: update_seq at the URL's origin
// (how npmjs and cnpmcore both report it).
func (f *feed) head(ctx context.Context) (uint64, error) {
	origin := f.url.Scheme + "://" + f.url.Host + "/"
	var info struct {
		UpdateSeq json.RawMessage `json:"update_seq"`
	}
	if err := f.get(ctx, origin, &info); err != nil {
		return 0, err
	}
	if len(info.UpdateSeq) == 0 {
		return 0, fmt.Errorf("GET %s: no update_seq in the answer", origin)
	}
	seq, err := parseSeq(info.UpdateSeq)
	if err != nil {
		return 0, fmt.Errorf("GET %s: update_seq: %w", origin, err)
	}
	return seq, nil
}

// changedSince reads every change after since: the names of the packages
// changed and the last position read (since itself when nothing changed).
func (f *feed) changedSince(ctx context.Context, since uint64) (map[string]bool, uint64, error) {
	changed := map[string]bool{}
	seen := 0
	for {
		q := url.Values{"since": {strconv.FormatUint(since, 10)}}
		page := cnpmcoreFeedPage
		if f.cfg.Format == FeedNPM {
			page = npmFeedPage
			q.Set("limit", strconv.Itoa(page))
		}
		u := *f.url
		u.RawQuery = q.Encode()
		var resp struct {
			Results []struct {
				Seq json.RawMessage `json:"seq"`
				ID  string          `json:"id"`
			} `json:"results"`
			LastSeq json.RawMessage `json:"last_seq"`
		}
		if err := f.get(ctx, u.String(), &resp); err != nil {
			return nil, 0, err
		}
		next := since
		for i, r := range resp.Results {
			seq, err := parseSeq(r.Seq)
			if err != nil {
				return nil, 0, fmt.Errorf("GET %s: results[%d].seq: %w", f.display(u.String()), i, err)
			}
			// Skip what is at or before the cursor: cnpmcore repeats the
			// entry at since, and a misbehaving feed must not loop us.
			if seq <= since {
				continue
			}
			if r.ID == "" {
				return nil, 0, fmt.Errorf("GET %s: results[%d] has no id", f.display(u.String()), i)
			}
			changed[r.ID] = true
			next = max(next, seq)
			if seen++; seen > f.cfg.MaxChanges {
				return nil, 0, fmt.Errorf("more than %d changes since %d: %w", f.cfg.MaxChanges, since, errFeedOverflow)
			}
		}
		if len(resp.LastSeq) > 0 && string(resp.LastSeq) != "null" {
			last, err := parseSeq(resp.LastSeq)
			if err != nil {
				return nil, 0, fmt.Errorf("GET %s: last_seq: %w", f.display(u.String()), err)
			}
			if len(resp.Results) > 0 {
				next = max(next, last)
			}
		}
		// A short page is the end; so is a page that did not move the
		// cursor (nothing new, or only the repeated cursor entry).
		if len(resp.Results) < page || next == since {
			return changed, next, nil
		}
		since = next
	}
}

// parseSeq reads a feed position: a whole number, or a string of one.
// CouchDB 2's opaque positions ("123-g1AAAA…") cannot be compared and are
// refused.
func parseSeq(raw json.RawMessage) (uint64, error) {
	s := string(raw)
	if unq, err := strconv.Unquote(s); err == nil {
		s = unq
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("position %s is not a whole number (ferry follows feeds with numeric positions, like npmjs's and cnpmcore's)", raw)
	}
	return n, nil
}
