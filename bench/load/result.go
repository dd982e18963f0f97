package load

import (
	"fmt"
	"strings"
	"time"
)

// Result is what one run measured.
type Result struct {
	// Config is the run's configuration, defaults filled in.
	Config Config
	// Deliveries counts the events subscribers received after the ticks
	// were released (or, idle, after the hold), over Window: from the
	// release to the last receipt.
	Deliveries          int
	Window              time.Duration
	DeliveriesPerSecond float64
	// Samples is how many TASK_MESSAGE deliveries the latency figures
	// cover; P50..Max are from an event's createdAt to its receipt.
	Samples                 int
	P50, P90, P99, Max      time.Duration
	ConnErrors              int // stream opens that failed
	Reconnects              int // streams reopened with the cursor after they ended early
	Missing                 int // eventIds never received, over all subscribers
	MaxMissingPerSubscriber int
	Duplicates              int // events received more than once
	Reordered               int // events received after a later one
	Unfinished              int // subscribers that never received the terminal event
	// StreamError is why a stream ended early or could not be opened, one
	// subscriber's last such error, when any did: what a reconnect or a
	// connection error was about.
	StreamError string
	// ServerCPU is the server's user+system CPU time from the release to
	// the end; ServerRSS its resident memory at the end. Both are zero
	// without Config.ServerPID.
	ServerCPU time.Duration
	ServerRSS int64
	// ServerLag says whether the server exported its own delivery lag
	// (a TaskBridge host's metrics); ServerLagP50 and ServerLagP99 are then
	// its quantiles over the run, from an event's append to its write,
	// estimated from the histogram's buckets. The gap between them and
	// P50/P99 is the network's and the load tool's.
	ServerLag                  bool
	ServerLagP50, ServerLagP99 time.Duration
	// IdleBytesPerSubscriber is the server's RSS growth from before the
	// subscribers connected to when all were live and idle, per
	// subscriber.
	IdleBytesPerSubscriber int64
}

// String is the run on one line.
func (r Result) String() string {
	c := r.Config
	var b strings.Builder
	fmt.Fprintf(&b, "transport=%s tasks=%d subscribers=%d", c.Transport, c.Tasks, c.Subscribers)
	if c.Idle {
		fmt.Fprintf(&b, " idle hold=%v", c.Hold)
	} else {
		fmt.Fprintf(&b, " rate=%g/s ticks/task=%d deliveries=%d window=%.2fs delivered/s=%.0f",
			c.Rate, c.ticksPerTask(), r.Deliveries, r.Window.Seconds(), r.DeliveriesPerSecond)
		fmt.Fprintf(&b, " p50=%v p90=%v p99=%v max=%v", r.P50, r.P90, r.P99, r.Max)
		if r.ServerLag {
			fmt.Fprintf(&b, " server_lag_p50=%v server_lag_p99=%v", r.ServerLagP50.Round(time.Microsecond), r.ServerLagP99.Round(time.Microsecond))
		}
	}
	fmt.Fprintf(&b, " conn_errors=%d reconnects=%d missing=%d (max %d/subscriber) duplicates=%d reordered=%d unfinished=%d",
		r.ConnErrors, r.Reconnects, r.Missing, r.MaxMissingPerSubscriber, r.Duplicates, r.Reordered, r.Unfinished)
	if r.StreamError != "" {
		fmt.Fprintf(&b, " stream_error=%q", r.StreamError)
	}
	if c.ServerPID != 0 {
		fmt.Fprintf(&b, " server_cpu=%.2fs server_rss=%.1fMiB idle_mem/subscriber=%.1fKB",
			r.ServerCPU.Seconds(), float64(r.ServerRSS)/(1<<20), float64(r.IdleBytesPerSubscriber)/1000)
	}
	return b.String()
}

// Lossless says whether every subscriber received every event exactly once,
// in order, through the terminal event.
func (r Result) Lossless() bool {
	return r.Missing == 0 && r.Duplicates == 0 && r.Reordered == 0 && r.Unfinished == 0
}
