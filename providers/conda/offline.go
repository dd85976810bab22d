package conda

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/conda/repodata"
	"github.com/ferry-mirror/ferry/providers/verify"
)

var _ providers.Offliner = (*Source)(nil)

// offlineListing is a conda source's listing in an air-gap cache: every
// configured subdir's channel index as List read it (in blobs, each record
// byte for byte), and the loose packages with the records computed from
// their archives. From those the offline source selects again, so it lists
// exactly what the connected side listed for the same configuration, and
// the channel index it publishes is the one the connected side would.
type offlineListing struct {
	// Channel and Loose are the inputs the listing was made from, as
	// displayed (no credentials); the offline source refuses a listing
	// made for other inputs.
	Channel string   `json:"channel"`
	Loose   []string `json:"loose,omitempty"`
	// Indexes are the channel's subdir indexes, by subdir.
	Indexes map[string]providers.Digest `json:"indexes,omitempty"`
	// Packages are the loose packages, in input order.
	Packages []offlinePackage `json:"packages,omitempty"`
}

// offlinePackage is one loose package: its record as computed (Raw is what
// the channel index publishes) and where it came from.
type offlinePackage struct {
	Subdir string           `json:"subdir"`
	File   string           `json:"file"`
	Origin string           `json:"origin"`
	Record *repodata.Record `json:"record"`
	Raw    string           `json:"raw"`
}

// Snapshot stores every configured subdir's index the last List read in
// blobs and returns the listing that names them, with the loose packages'
// records. The package files are the listed artifacts' own bytes, which
// the cache holds by digest.
func (s *Source) Snapshot(ctx context.Context, _, _ []providers.Artifact, blobs providers.Blobs) ([]byte, error) {
	l := offlineListing{Channel: s.channelDisplay(), Loose: s.cfg.looseDisplay(), Indexes: map[string]providers.Digest{}}
	if s.hasChannel() {
		for _, sd := range s.cfg.Subdirs {
			rd := s.readIndexOf(sd)
			if rd == nil {
				return nil, s.opErr("snapshot", "", fmt.Errorf("subdir %s: nothing listed yet", sd))
			}
			doc, err := snapshotIndex(rd)
			if err != nil {
				return nil, s.opErr("snapshot", "", fmt.Errorf("subdir %s: %w", sd, err))
			}
			sum := sha256.Sum256(doc)
			d := providers.Digest{Algorithm: providers.SHA256, Hex: hex.EncodeToString(sum[:])}
			if err := blobs.Put(ctx, d, int64(len(doc)), bytes.NewReader(doc)); err != nil {
				return nil, s.opErr("snapshot", "", fmt.Errorf("subdir %s: %w", sd, err))
			}
			l.Indexes[sd] = d
		}
	}
	if s.cfg.hasLoose() {
		s.mu.Lock()
		ls := s.looseSet
		s.mu.Unlock()
		if ls == nil {
			return nil, s.opErr("snapshot", "", errors.New("loose packages: nothing listed yet"))
		}
		<-ls.ready
		if ls.err != nil {
			return nil, s.opErr("snapshot", "", ls.err)
		}
		for _, c := range ls.cands {
			l.Packages = append(l.Packages, offlinePackage{Subdir: c.subdir, File: c.file, Origin: c.origin, Record: c.rec, Raw: string(c.rec.Raw)})
		}
	}
	return json.Marshal(l)
}

// snapshotIndex renders the parts of rd the source reads (both record
// maps, each record's bytes as served, and "removed") as a repodata.json
// that repodata.Parse reads back to the same records.
func snapshotIndex(rd *repodata.Repodata) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("{")
	for i, m := range []struct {
		key  string
		recs map[string]*repodata.Record
	}{{"packages", rd.Packages}, {"packages.conda", rd.PackagesConda}} {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "\n%q: {", m.key)
		for j, fn := range slices.Sorted(maps.Keys(m.recs)) {
			if j > 0 {
				b.WriteString(",")
			}
			name, err := json.Marshal(fn)
			if err != nil {
				return nil, err
			}
			b.Write(name)
			b.WriteString(": ")
			b.Write(m.recs[fn].Raw)
		}
		b.WriteString("}")
	}
	removed, err := json.Marshal(rd.Removed)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(&b, ",\n\"removed\": %s\n}\n", removed)
	return b.Bytes(), nil
}

// looseDisplay is the configured loose inputs, as displayed.
func (cfg *SourceConfig) looseDisplay() []string {
	var out []string
	for _, in := range append(slices.Clone(cfg.Packages), cfg.Archives...) {
		out = append(out, in.display())
	}
	for _, g := range cfg.GitHub {
		out = append(out, fmt.Sprintf("github_artifacts %s %q", g.Repository, g.Name))
	}
	return out
}

// Offline returns a copy of the source that reads the channel indexes from
// blobs and the loose packages' records from listing, and contacts no
// channel: List, UpstreamHas, Notes and the channel index (ReadOutputs,
// Publish) work as online; Fetch is the cache's.
func (s *Source) Offline(listing []byte, blobs providers.Blobs) (providers.Source, error) {
	var l offlineListing
	if err := providers.ReadListing(s.name, listing, &l); err != nil {
		return nil, err
	}
	if l.Channel != s.channelDisplay() || !slices.Equal(l.Loose, s.cfg.looseDisplay()) {
		return nil, fmt.Errorf("source %s: the cache was filled from channel %s and loose inputs %q, the configuration reads %s and %q: run ferry apply -download-only with this configuration on the connected side",
			s.name, l.Channel, l.Loose, s.channelDisplay(), s.cfg.looseDisplay())
	}
	for _, p := range l.Packages {
		if p.Record == nil || !repodata.ValidSubdir(p.Subdir) || !repodata.ValidFileName(p.File) {
			return nil, fmt.Errorf("source %s: unreadable listing in the cache: loose package %q", s.name, p.Subdir+"/"+p.File)
		}
	}
	return &Source{
		name: s.name, cfg: s.cfg, log: s.log, http: s.http, base: s.base, sel: s.sel,
		subdirs: map[string]*subdirIndex{}, maxLoose: s.maxLoose, getenv: s.getenv,
		offline: &offlineIndexes{listing: l, blobs: blobs},
	}, nil
}

// offlineIndexes is where the source Offline returns reads its indexes.
type offlineIndexes struct {
	listing offlineListing
	blobs   providers.Blobs
}

// errOffline is what an offline source answers when asked to read the
// channel: the cache serves the package files.
var errOffline = fmt.Errorf("an offline conda source reads no channel; the air-gap cache serves the packages: %w", providers.ErrUnsupported)

// readOfflineIndex is readIndex for the offline source.
func (s *Source) readOfflineIndex(ctx context.Context, subdir string) (*repodata.Repodata, string, error) {
	d, ok := s.offline.listing.Indexes[subdir]
	if !ok {
		// Not ErrNotFound: that would read as a subdir without an index.
		return nil, "", fmt.Errorf("subdir %s: its index is not in the cache (the configuration reads more subdirs than when the cache was filled): run ferry apply -download-only again", subdir)
	}
	js, err := verify.ReadBlob(ctx, s.offline.blobs, d, repodata.MaxSize)
	if err != nil {
		return nil, "", fmt.Errorf("subdir %s: %w", subdir, err)
	}
	rd, err := repodata.Parse(js)
	if err != nil {
		return nil, "", fmt.Errorf("subdir %s: the index in the cache: %w", subdir, err)
	}
	return rd, "cache " + d.String(), nil
}

// readOfflineLoose is readLoose for the offline source: the records the
// connected side computed, no file to read.
func (s *Source) readOfflineLoose(ls *looseSet) error {
	ls.pkgs = map[string]*loosePkg{}
	for _, p := range s.offline.listing.Packages {
		r := *p.Record
		r.Raw = json.RawMessage(p.Raw)
		c := &candidate{subdir: p.Subdir, file: p.File, rec: &r, origin: p.Origin}
		ls.pkgs[Key(c.subdir, c.file)] = &loosePkg{cand: c}
		ls.cands = append(ls.cands, c)
	}
	return nil
}
