package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// The generated channel must hold exactly the records asked for (file
// names unique, none lost to a map collision), in valid repodata, and be
// the same bytes every time: the scenario's figures compare runs.
func TestGenCondaChannel(t *testing.T) {
	tests := []struct {
		name    string
		records int
	}{
		{name: "small", records: 500},
		{name: "full", records: 5000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := t.TempDir(), t.TempDir()
			ch, err := genCondaChannel(a, tc.records, 13)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := genCondaChannel(b, tc.records, 13); err != nil {
				t.Fatal(err)
			}
			got := 0
			for _, sd := range []string{"linux-64", "noarch"} {
				ba, err := os.ReadFile(filepath.Join(a, sd, "repodata.json"))
				if err != nil {
					t.Fatal(err)
				}
				bb, err := os.ReadFile(filepath.Join(b, sd, "repodata.json"))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(ba, bb) {
					t.Errorf("%s/repodata.json differs between two generations with the same seed", sd)
				}
				var rd condaRepodata
				if err := json.Unmarshal(ba, &rd); err != nil {
					t.Fatalf("%s: %v", sd, err)
				}
				if rd.Info.Subdir != sd {
					t.Errorf("%s: info.subdir = %q", sd, rd.Info.Subdir)
				}
				for fn, r := range rd.Packages {
					if r.Subdir != sd || filepath.Ext(fn) != ".bz2" {
						t.Errorf("%s: packages[%s] has subdir %q", sd, fn, r.Subdir)
					}
				}
				for fn, r := range rd.PackagesConda {
					if r.Subdir != sd || filepath.Ext(fn) != ".conda" {
						t.Errorf("%s: packages.conda[%s] has subdir %q", sd, fn, r.Subdir)
					}
				}
				got += len(rd.Packages) + len(rd.PackagesConda)
			}
			if got != tc.records || ch.records != tc.records {
				t.Errorf("channel holds %d records (reported %d), want %d", got, ch.records, tc.records)
			}
		})
	}
}
