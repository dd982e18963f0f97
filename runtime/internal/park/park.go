// Package park runs a loop on a goroutine only while the loop has work. A
// loop that finds nothing to do parks: its goroutine returns, and the next
// Wake starts a new goroutine that takes the loop up where it stopped. A
// stream that waits for hours between events thus holds no goroutine, and
// no stack, for its loop while it waits.
//
// The owner's loop, on whichever goroutine runs it, goes:
//
//	for {
//		l.Begin()
//		// look at everything a Wake may announce; do what is due
//		// when nothing is due, either wait:
//		select { case <-ownChannel: case <-l.Kicked(): }
//		// or give up the goroutine:
//		if l.Park() { return } // a Wake calls resume on a new goroutine
//	}
//
// Whoever changes what the loop looks at changes it first and calls Wake
// after, so no change is missed: a change made before Begin is seen by the
// look that follows it, and a Wake after Begin makes Park fail and Kicked
// ready. WakeAt wakes the loop when something falls due, and WakeWhenDone
// when a context ends.
package park

import (
	"context"
	"sync/atomic"
	"time"
)

// States of a Loop.
const (
	running int32 = iota // a goroutine runs the loop, which has seen every Wake
	woken                // a goroutine runs the loop, which has a Wake to see
	parked               // no goroutine runs the loop
	ended                // the loop has ended; Wake does nothing
)

// Loop is the state of one parkable loop. Its methods but Wake are called
// only by the goroutine that runs the loop; Wake is safe for concurrent
// use and never blocks.
type Loop struct {
	state  atomic.Int32
	kicked chan struct{}
	resume func()

	alarm       *time.Timer // wakes the loop at alarmAt
	alarmAt     time.Time
	stopCtxWake func() bool // of WakeWhenDone
}

// New returns a loop run by the caller's goroutine. resume takes the loop
// up on a new goroutine after it parked and was woken.
func New(resume func()) *Loop {
	return &Loop{kicked: make(chan struct{}, 1), resume: resume}
}

// Wake tells the loop that something it looks at changed: a parked loop
// resumes on a new goroutine; a running one finds Kicked ready and Park
// failing until its next Begin.
func (l *Loop) Wake() {
	for {
		switch l.state.Load() {
		case parked:
			if l.state.CompareAndSwap(parked, running) {
				go l.resume()
				return
			}
		case running:
			if l.state.CompareAndSwap(running, woken) {
				select {
				case l.kicked <- struct{}{}:
				default: // a kick is already waiting
				}
				return
			}
		default: // woken already, or ended
			return
		}
	}
}

// Begin starts a round of the loop: the Wakes before it are seen by the
// look that follows it.
func (l *Loop) Begin() { l.state.CompareAndSwap(woken, running) }

// Kicked is ready after a Wake that found the loop running, for the loop
// to wait on beside its own channels. It may be ready after the change was
// already seen; the loop then makes one more round.
func (l *Loop) Kicked() <-chan struct{} { return l.kicked }

// Park gives up the loop's goroutine unless a Wake came since Begin. When
// it returns true the caller returns at once, touching nothing the loop
// owns: the next Wake hands it to resume. When it returns false the loop
// makes another round.
func (l *Loop) Park() bool { return l.state.CompareAndSwap(running, parked) }

// WakeAt makes the loop wake at at, for what falls due then (a heartbeat,
// say), unless it is to wake between now and at already: it then sets the
// time again when it wakes. A loop sets one time at a time.
func (l *Loop) WakeAt(now, at time.Time) {
	if now.Before(l.alarmAt) && !at.Before(l.alarmAt) {
		return
	}
	if l.alarm == nil {
		l.alarm = time.AfterFunc(at.Sub(now), l.Wake)
	} else {
		l.alarm.Reset(at.Sub(now))
	}
	l.alarmAt = at
}

// WakeWhenDone makes the loop wake when ctx is done.
func (l *Loop) WakeWhenDone(ctx context.Context) {
	l.stopCtxWake = context.AfterFunc(ctx, l.Wake)
}

// End marks the loop ended and stops what WakeAt and WakeWhenDone set up;
// Wake does nothing from then on.
func (l *Loop) End() {
	l.state.Store(ended)
	if l.alarm != nil {
		l.alarm.Stop()
	}
	if l.stopCtxWake != nil {
		l.stopCtxWake()
	}
}
