package deadline

import (
	"errors"
	"testing"
	"time"
)

func TestSetOnlyWhenEarlierOrBeyondTheSlack(t *testing.T) {
	var set []time.Time
	l := &Lazy{Slack: time.Minute, Set: func(d time.Time) error { set = append(set, d); return nil }}
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	steps := []struct {
		ask  time.Time
		sets bool
	}{
		{t0, true},                        // the first is always set
		{t0.Add(30 * time.Second), false}, // within the slack
		{t0.Add(time.Minute), false},      // at the slack
		{t0.Add(61 * time.Second), true},  // beyond it
		{t0, true},                        // earlier
		{time.Time{}, true},               // none
		{t0, true},                        // after none
	}
	for i, s := range steps {
		before := len(set)
		if err := l.SetWriteDeadline(s.ask); err != nil {
			t.Fatal(err)
		}
		if got := len(set) > before; got != s.sets {
			t.Fatalf("step %d (%v): set=%v, want %v", i, s.ask, got, s.sets)
		}
		if s.sets && !set[len(set)-1].Equal(s.ask) {
			t.Fatalf("step %d: set %v, want %v", i, set[len(set)-1], s.ask)
		}
	}
}

func TestAFailedSetIsTriedAgain(t *testing.T) {
	fail := errors.New("closed")
	calls := 0
	l := &Lazy{Slack: time.Minute, Set: func(time.Time) error {
		calls++
		if calls == 1 {
			return fail
		}
		return nil
	}}
	at := time.Now()
	if err := l.SetWriteDeadline(at); !errors.Is(err, fail) {
		t.Fatalf("got %v, want the Set error", err)
	}
	if err := l.SetWriteDeadline(at); err != nil || calls != 2 {
		t.Fatalf("after a failed Set the same deadline must be set again: calls=%d err=%v", calls, err)
	}
}
