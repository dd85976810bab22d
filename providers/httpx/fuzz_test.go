package httpx

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzRedact checks URL redaction on arbitrary URLs. No panic, and:
//
//   - a password in the user info never appears in the redacted form
//     (unless it also appears in the rest of the URL, which is not secret);
//   - the redacted form, parsed again, has no password, a user name of
//     "xxxxx" if any, and "xxxxx" as the value of every query parameter
//     whose name suggests a secret;
//   - RedactString of a URL that does not parse echoes nothing of it.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{
		"https://user:pw@example.org/greeting.txt?sig=abc&x=1",
		"http://ci:s3cr3t@127.0.0.1:8731/a?token=t&Auth_Key=k&x=%zz",
		"https://tok@host/p#frag",
		"http://u:p%40ss@h/?X-Amz-Signature=abc&X-Amz-Credential=c",
		"file:///etc/passwd",
		"http:user:pass@host",
		"//u:p@h/x?a=b;c",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			if got := RedactString(raw); got != "(invalid URL)" {
				t.Fatalf("RedactString(%q) = %q for an unparsable URL", raw, got)
			}
			return
		}
		out := Redact(u)
		if pw, ok := u.User.Password(); ok && len(pw) >= 3 && !strings.Contains(redacted, pw) {
			rest := *u
			rest.User = nil
			others := rest.String() + "\x00" + u.User.Username() + "\x00" + rest.Query().Encode()
			if !strings.Contains(others, pw) && strings.Contains(out, pw) {
				t.Fatalf("Redact(%q) = %q shows the password %q", raw, out, pw)
			}
		}
		v, err := url.Parse(out)
		if err != nil {
			t.Fatalf("Redact(%q) = %q, which does not parse: %v", raw, out, err)
		}
		if v.User != nil {
			if _, has := v.User.Password(); has || v.User.Username() != redacted {
				t.Fatalf("Redact(%q) = %q keeps user info %q", raw, out, v.User)
			}
		}
		if v.RawQuery == redacted {
			return
		}
		q, err := url.ParseQuery(v.RawQuery)
		if err != nil {
			t.Fatalf("Redact(%q) = %q: query does not parse: %v", raw, out, err)
		}
		for name, vals := range q {
			if !sensitiveName(name) {
				continue
			}
			for _, val := range vals {
				if val != redacted {
					t.Fatalf("Redact(%q) = %q keeps %s=%q", raw, out, name, val)
				}
			}
		}
	})
}

func sensitiveName(name string) bool {
	lower := strings.ToLower(name)
	for _, s := range sensitiveParams {
		if strings.Contains(lower, s) {
			return true
		}
	}
	return false
}

// FuzzParseRetryAfter: no panic; an accepted value is a non-negative wait
// of at most 24 h for delay seconds (dates are relative to now); and every
// whole number of seconds is read as such.
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "120", " 5 ", "-1", "99999999999999999999", "Wed, 21 Oct 2015 07:28:00 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "1.5", ""} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := parseRetryAfter(v, now)
		if !ok {
			if d != 0 {
				t.Fatalf("parseRetryAfter(%q) = %v, false", v, d)
			}
			return
		}
		if d < 0 {
			t.Fatalf("parseRetryAfter(%q) = %v: negative", v, d)
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			if want := time.Duration(min(n, 86400)) * time.Second; d != want {
				t.Fatalf("parseRetryAfter(%q) = %v, want %v", v, d, want)
			}
		}
	})
}

// FuzzParseContentRange: no panic; an accepted header has 0 <= start and a
// total that is unknown (-1) or past the range's end; and a header written
// from its result parses back the same.
func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-99/100", "bytes 100-199/*", "bytes 5-4/10", "bytes 0-9/9", "bytes -1-5/10", "bytes 0-9223372036854775807/9223372036854775807", "items 0-1/2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		start, total, ok := parseContentRange(v)
		if !ok {
			return
		}
		if start < 0 || total != -1 && total <= start {
			t.Fatalf("parseContentRange(%q) = %d, %d", v, start, total)
		}
		tot := "*"
		if total >= 0 {
			tot = strconv.FormatInt(total, 10)
		}
		s2, t2, ok := parseContentRange("bytes " + strconv.FormatInt(start, 10) + "-" + strconv.FormatInt(start, 10) + "/" + tot)
		if !ok || s2 != start || t2 != total {
			t.Fatalf("parseContentRange(%q) = %d, %d; rewritten: %d, %d, %v", v, start, total, s2, t2, ok)
		}
	})
}
