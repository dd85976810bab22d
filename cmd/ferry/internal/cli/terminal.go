package cli

import (
	"fmt"
	"io"
	"unicode/utf8"
)

// escapeWriter is the one place where human-facing text meets the
// terminal. Names, keys, versions and error messages come from state files,
// configs and upstreams; a raw ESC, another C0 or C1 control character, a
// bidi override or a stray byte of invalid UTF-8 (a lone 0x9b is an 8-bit
// CSI to some terminals) could retitle the window, clear the screen or
// reorder what the user reads. Every such character is written visibly
// instead: bytes as \xNN, runes as \uNNNN. Newline and tab pass.
//
// Each Write is escaped on its own: the writers in this package write whole
// strings, and a rune split across two writes is shown escaped, never raw.
// Output that is not text for a person (JSON, fmt -diff of the user's own
// file, the progress bar's cursor control) goes to the raw streams.
type escapeWriter struct{ w io.Writer }

func (e escapeWriter) Write(p []byte) (int, error) {
	if !needsEscape(p) {
		return e.w.Write(p)
	}
	if _, err := e.w.Write(escapeTerminal(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

func needsEscape(p []byte) bool {
	for _, c := range p {
		if (c < 0x20 && c != '\n' && c != '\t') || c >= 0x7f {
			return true
		}
	}
	return false
}

// escapeTerminal returns p with every character a terminal might act on
// (see escapeWriter) written visibly.
func escapeTerminal(p []byte) []byte {
	out := make([]byte, 0, len(p)+16)
	for len(p) > 0 {
		c := p[0]
		if c < utf8.RuneSelf {
			if (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f {
				out = fmt.Appendf(out, `\x%02x`, c)
			} else {
				out = append(out, c)
			}
			p = p[1:]
			continue
		}
		r, n := utf8.DecodeRune(p)
		switch {
		case r == utf8.RuneError && n == 1:
			out = fmt.Appendf(out, `\x%02x`, c)
		case isTerminalControl(r):
			out = fmt.Appendf(out, `\u%04x`, r)
		default:
			out = append(out, p[:n]...)
		}
		p = p[n:]
	}
	return out
}

// isTerminalControl reports the non-ASCII runes that change how a terminal
// shows what follows: the C1 controls and the bidirectional formatting
// characters (Trojan Source).
func isTerminalControl(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}
