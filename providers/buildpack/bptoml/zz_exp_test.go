package bptoml

import (
	"fmt"
	"testing"

	"github.com/pelletier/go-toml/v2"
)

func TestExp(t *testing.T) {
	for _, s := range []string{
		"[[metadata.dependencies]]\nuri='a'\nd=2025-01-01T00:00:00Z\ne=2025-01-01\nf=2025-01-01T00:00:00\n[[metadata.dependencies.licenses]]\nuri='x'\n[[metadata.dependencies]]\nuri='b'\n",
		"[[metadata.dependencies]]\nuri='a'\nuri='b'\n",
		"[metadata]\ndependencies=[{uri='a'}]\n[[metadata.dependencies]]\nuri='b'\n",
		"[metadata]\ndependencies=[]\n[[metadata.dependencies]]\nuri='b'\n",
		"a = \n",
		"a = \"x\nb=1",
		"[[metadata.dependencies]]\n[metadata]\nx=1\n",
		"[[metadata.dependencies]]\nx=1\n[metadata.dependencies]\nx=1\n",
		"x = nan\n",
		"",
	} {
		var m map[string]any
		err := toml.Unmarshal([]byte(s), &m)
		fmt.Printf("%q\n  %#v\n  err=%v\n", s, m, err)
		if de, ok := err.(*toml.DecodeError); ok {
			r, c := de.Position()
			fmt.Println("  pos", r, c, de.Key())
		}
	}
}
