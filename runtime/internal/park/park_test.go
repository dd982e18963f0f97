package park

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A loop that alternately waits on Kicked and parks sees every change that
// many goroutines make, on one goroutine at a time, and its goroutines end
// with it. A lost Wake leaves it parked or waiting, and the test hangs.
func TestLoopSeesEveryChange(t *testing.T) {
	const writers, changes = 8, 20000
	var (
		made    atomic.Int64 // the changes, made before each Wake
		running atomic.Int32 // goroutines inside the loop
		rounds  int          // owned by the loop
		parks   atomic.Int64
		done    = make(chan struct{})
		l       *Loop
	)
	var loop func()
	loop = func() {
		enter := func() {
			if running.Add(1) != 1 {
				t.Error("two goroutines run the loop")
			}
		}
		enter()
		for {
			l.Begin()
			if made.Load() == writers*changes {
				running.Add(-1)
				l.End()
				close(done)
				return
			}
			rounds++
			if rounds%2 == 0 {
				<-l.Kicked()
				continue
			}
			running.Add(-1)
			if l.Park() {
				parks.Add(1)
				return
			}
			enter()
		}
	}
	l = New(loop)
	go loop()

	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range changes {
				made.Add(1)
				l.Wake()
			}
		})
	}
	wg.Wait()
	<-done
	if parks.Load() == 0 {
		t.Error("the loop never parked")
	}
	l.Wake() // ended: starts nothing, as goleak checks
}

func TestWakeStartsAParkedLoop(t *testing.T) {
	resumed := make(chan struct{})
	l := New(func() { close(resumed) })
	if !l.Park() {
		t.Fatal("Park failed with no Wake since Begin")
	}
	l.Wake()
	<-resumed
	l.Wake() // running again, on resume's goroutine: a kick, no new goroutine
	select {
	case <-l.Kicked():
	default:
		t.Error("Wake of a running loop did not kick it")
	}
	if l.Park() {
		t.Error("Park succeeded after a Wake with no Begin since")
	}
	l.Begin()
	if !l.Park() {
		t.Error("Park failed after Begin")
	}
	l.End()
	l.Wake() // ended: nothing to resume
}

// WakeAt and WakeWhenDone wake a parked loop; a later time set after an
// earlier one leaves the earlier.
func TestAlarmAndContextWakeAParkedLoop(t *testing.T) {
	resumed := make(chan struct{}, 1)
	l := New(func() { resumed <- struct{}{} })
	now := time.Now()
	l.WakeAt(now, now.Add(time.Millisecond))
	l.WakeAt(now, now.Add(time.Hour))
	if !l.Park() {
		t.Fatal("Park failed with no Wake since Begin")
	}
	<-resumed // hangs if the hour replaced the millisecond

	ctx, cancel := context.WithCancel(t.Context())
	l.WakeWhenDone(ctx)
	l.WakeAt(time.Now(), time.Now().Add(time.Hour))
	l.Begin()
	if !l.Park() {
		t.Fatal("Park failed with no Wake since Begin")
	}
	cancel()
	<-resumed
	l.End()
}
