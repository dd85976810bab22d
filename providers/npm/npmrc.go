package npm

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// npmrcPath is the user's npm configuration file: $NPM_CONFIG_USERCONFIG,
// else ~/.npmrc (npm's own order for the user level).
func npmrcPath(getenv func(string) string) string {
	if p := getenv("NPM_CONFIG_USERCONFIG"); p != "" {
		return p
	}
	if p := getenv("npm_config_userconfig"); p != "" {
		return p
	}
	home := getenv("HOME")
	if home == "" {
		return ""
	}
	return filepath.Join(home, ".npmrc")
}

var envRefRE = regexp.MustCompile(`\$\{([^${}]+)\}`)

// npmrcToken finds the _authToken the .npmrc at path gives registry base:
// the entry "//HOST/PATH/:_authToken=…" with the longest PATH that is a
// prefix of base's path. ${VAR} references are expanded from the
// environment, as npm does. A missing file is no token, not an error.
func npmrcToken(path string, base *url.URL, getenv func(string) string) (string, error) {
	if path == "" {
		return "", nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	best, bestLen := "", -1
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		prefix, ok := strings.CutSuffix(k, ":_authToken")
		if !ok || !strings.HasPrefix(prefix, "//") {
			continue
		}
		host, p, _ := strings.Cut(strings.TrimPrefix(prefix, "//"), "/")
		p = "/" + p
		if !strings.HasSuffix(p, "/") {
			p += "/"
		}
		if host != base.Host || !strings.HasPrefix(base.Path, p) || len(p) <= bestLen {
			continue
		}
		if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
			v = v[1 : len(v)-1]
		}
		best, bestLen = envRefRE.ReplaceAllStringFunc(v, func(ref string) string {
			return getenv(envRefRE.FindStringSubmatch(ref)[1])
		}), len(p)
	}
	return best, nil
}
