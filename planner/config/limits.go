package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/ferry-mirror/ferry/planner/config/schema"
)

// decodeTransferLimits reads the ferry block's bounds on one transfer:
// max_artifact_size and http_idle_timeout.
func decodeTransferLimits(content *hcl.BodyContent, ectx *hcl.EvalContext, s *Settings) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if attr := content.Attributes["max_artifact_size"]; attr != nil {
		v, moreDiags := schema.DecodePlainString(attr, ectx)
		diags = append(diags, moreDiags...)
		if !moreDiags.HasErrors() {
			if n, err := parseSize(v); err != nil {
				diags = append(diags, schema.AttrError(attr, "Invalid max_artifact_size", fmt.Sprintf("max_artifact_size %s. Use a number of bytes or a size such as \"8GiB\", \"500MiB\" or \"2GB\" "+
					"(units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB).", err)))
			} else {
				s.MaxArtifactSize = n
			}
		}
	}
	if attr := content.Attributes["http_idle_timeout"]; attr != nil {
		v, moreDiags := schema.DecodePlainString(attr, ectx)
		diags = append(diags, moreDiags...)
		if !moreDiags.HasErrors() {
			if d, err := time.ParseDuration(v); err != nil || d <= 0 {
				diags = append(diags, schema.AttrError(attr, "Invalid http_idle_timeout", fmt.Sprintf("http_idle_timeout must be a positive Go duration such as \"60s\" or \"5m\"; got %q.", v)))
			} else {
				s.HTTPIdleTimeout = d
			}
		}
	}
	return diags
}

// sizeUnit is the multiplier of a unit parseSize accepts (lower case).
func sizeUnit(u string) (int64, bool) {
	switch u {
	case "", "b":
		return 1, true
	case "kb":
		return 1e3, true
	case "mb":
		return 1e6, true
	case "gb":
		return 1e9, true
	case "tb":
		return 1e12, true
	case "kib":
		return 1 << 10, true
	case "mib":
		return 1 << 20, true
	case "gib":
		return 1 << 30, true
	case "tib":
		return 1 << 40, true
	}
	return 0, false
}

// parseSize parses a positive whole number of bytes with an optional unit
// ("8GiB", "500 MiB", "1048576"). Errors complete the sentence
// "max_artifact_size …".
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return r < '0' || r > '9' })
	if i < 0 {
		i = len(t)
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	mult, ok := sizeUnit(unit)
	if num == "" || !ok {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is too large", s)
	}
	if n == 0 {
		return 0, fmt.Errorf("must be greater than zero; got %q", s)
	}
	return n * mult, nil
}
