package safefile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestRegularFileOnly(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need privileges on Windows")
	}
	d := t.TempDir()
	secret := filepath.Join(d, "secret")
	if err := os.WriteFile(secret, []byte("hunter2"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "regular"), []byte("ok"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(d, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(d, "nowhere"), filepath.Join(d, "dangling")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(d, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		readErr  error // nil: reads "ok"
		writeErr error // nil: written
	}{
		{name: "regular"},
		{name: "missing", readErr: fs.ErrNotExist},
		{name: "link", readErr: ErrNotRegular, writeErr: ErrNotRegular},
		{name: "dangling", readErr: ErrNotRegular, writeErr: ErrNotRegular},
		{name: "dir", readErr: ErrNotRegular, writeErr: ErrNotRegular},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(d, tt.name)
			b, mode, err := ReadRegularFile(p)
			switch {
			case tt.readErr != nil && !errors.Is(err, tt.readErr):
				t.Errorf("ReadRegularFile error = %v, want %v", err, tt.readErr)
			case tt.readErr == nil && (err != nil || string(b) != "ok" || mode != 0o640):
				t.Errorf("ReadRegularFile = %q, %v, %v; want \"ok\", 0640", b, mode, err)
			}
			err = WriteRegularFileAtomic(p, []byte("new"), 0o644)
			if tt.writeErr != nil {
				if !errors.Is(err, tt.writeErr) {
					t.Errorf("WriteRegularFileAtomic error = %v, want %v", err, tt.writeErr)
				}
			} else if err != nil {
				t.Errorf("WriteRegularFileAtomic: %v", err)
			}
		})
	}
	if b, _ := os.ReadFile(secret); string(b) != "hunter2" {
		t.Errorf("the link target = %q, want it untouched", b)
	}
	if _, err := os.Stat(filepath.Join(d, "nowhere")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a write through the dangling link created its target (%v)", err)
	}
}
