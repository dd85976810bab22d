package npm_test

import (
	"testing"

	"github.com/ferry-mirror/ferry/providers/npm"
)

// TestSourceTypeVersionOrder: the registered npm source type carries npm's
// semver order, so retention ranks its versions that way.
func TestSourceTypeVersionOrder(t *testing.T) {
	order := npm.SourceType().VersionOrder
	if order == nil {
		t.Fatal("npm.SourceType() declares no version order")
	}
	if order("1.0.0-rc.1", "1.0.0") >= 0 {
		t.Error(`order("1.0.0-rc.1", "1.0.0") >= 0; want the pre-release older`)
	}
	if npm.DestinationType().VersionOrder != nil {
		t.Error("a destination type declares a version order")
	}
}
