package oci

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
)

// Tag returns the tag that stores key. A key like
// "node/20.11.1/<64 hex>/node-v20.11.1-linux-x64.tar.xz" is stored under one
// tag of the repository, and OCI tags match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
// The rule:
//
//  1. A key that already is a valid tag of at most 100 characters, and does
//     not look like a hashed tag (it is not 16 lowercase hex digits and does
//     not end in "-" and 16 of them), is its own tag: "jq-1.7.1".
//  2. Every other key becomes READABLE-HASH, where HASH is the first 16 hex
//     digits of sha256(key) and READABLE is the key with every path segment
//     of 32 or more hex digits (a content digest) shortened to its first 12;
//     every run of characters outside [A-Za-z0-9._-] ("/", "+", ":", …) and
//     of dashes replaced by one "-"; leading "." and "-" removed; cut to at
//     most 100 characters; trailing "." and "-" removed. When nothing
//     readable remains, the tag is HASH alone.
//
// So "node/20.11.1/<64 hex>/node-v20.11.1-linux-x64.tar.xz" becomes
// "node-20.11.1-<12 hex>-node-v20.11.1-linux-x64.tar.xz-<16 hex>".
//
// Tags are at most 117 characters. Distinct keys get distinct tags: a tag of
// rule 1 never has the shape of a rule-2 tag, and two rule-2 tags are equal
// only if the 64-bit sha256 prefixes of their keys are (a chance of about
// n²/2⁶⁵ among n keys). The rule is part of the stored format: changing it
// orphans every artifact already pushed.
func Tag(key string) string {
	if len(key) <= maxReadable && isTag(key) && !hashedTagRE.MatchString(key) {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	h := hex.EncodeToString(sum[:])[:hashHexLen]
	r := readable(key)
	if r == "" {
		return h
	}
	return r + "-" + h
}

const (
	maxReadable = 100
	hashHexLen  = 16
	// digestSegmentLen is the shortest path segment taken for a digest, and
	// digestAbbrevLen what remains of it in the readable part.
	digestSegmentLen = 32
	digestAbbrevLen  = 12
)

var (
	tagRE       = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
	hashedTagRE = regexp.MustCompile(`(^|-)[0-9a-f]{16}$`)
	hexRE       = regexp.MustCompile(`^[0-9a-fA-F]+$`)
)

func isTag(s string) bool { return tagRE.MatchString(s) }

func tagChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

func readable(key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		if len(s) >= digestSegmentLen && hexRE.MatchString(s) {
			segs[i] = s[:digestAbbrevLen]
		}
	}
	s := strings.Join(segs, "/")
	var b strings.Builder
	dash := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !tagChar(c) || c == '-' {
			if !dash {
				b.WriteByte('-')
			}
			dash = true
			continue
		}
		b.WriteByte(c)
		dash = false
	}
	out := strings.TrimLeft(b.String(), ".-")
	if len(out) > maxReadable {
		out = out[:maxReadable]
	}
	return strings.TrimRight(out, ".-")
}
