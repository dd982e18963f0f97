package taskbridge_test

import (
	"errors"
	"strconv"
	"testing"

	"github.com/taskbridge-go/taskbridge"
)

// FuzzParseEventID: a cursor parses exactly when it is the canonical
// decimal form of an id the stores can keep, and then formats back to
// itself; anything else is ErrMalformedCursor, never a panic.
func FuzzParseEventID(f *testing.F) {
	for _, s := range []string{"0", "1", "42", "9223372036854775807", "9223372036854775808", "", "01", "-1", "+1", " 1", "1e3", "0x1f", "٣", "1\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := taskbridge.ParseEventID(s)
		if err != nil {
			if !errors.Is(err, taskbridge.ErrMalformedCursor) {
				t.Fatalf("%q: %v is not ErrMalformedCursor", s, err)
			}
			if n, perr := strconv.ParseUint(s, 10, 63); perr == nil && strconv.FormatUint(n, 10) == s {
				t.Fatalf("%q is a canonical id %d but was refused", s, n)
			}
			return
		}
		if got := taskbridge.FormatEventID(id); got != s {
			t.Fatalf("%q parsed to %d, which formats as %q", s, id, got)
		}
	})
}
