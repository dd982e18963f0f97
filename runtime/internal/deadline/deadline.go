// Package deadline sets a connection's write deadline lazily: setting a
// deadline costs a timer update in the runtime's poller, too much to pay on
// every write of a stream that writes hundreds of times a second.
package deadline

import "time"

// Lazy passes a deadline on to Set only when it is earlier than the one set
// or more than Slack later; otherwise the one set stays, at most Slack
// earlier than asked. With Slack half the write timeout, a write that makes
// no progress fails after between half and all of the timeout.
type Lazy struct {
	// Slack is how much earlier than asked the deadline may be.
	Slack time.Duration
	// Set sets the connection's write deadline.
	Set func(time.Time) error

	set time.Time
}

// SetWriteDeadline asks for deadline t; the zero time means none.
func (l *Lazy) SetWriteDeadline(t time.Time) error {
	if !l.set.IsZero() && !t.IsZero() && !t.Before(l.set) && t.Sub(l.set) <= l.Slack {
		return nil
	}
	if err := l.Set(t); err != nil {
		return err
	}
	l.set = t
	return nil
}
