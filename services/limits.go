package services

import (
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/gen"
)

// Limits are per-subject caps, so that one caller cannot take what the
// others need. They are counted in each process: behind N replicas a
// subject may hold up to N times each. A zero field is no cap.
type Limits struct {
	// StreamsPerSubject caps the streams (SSE responses and WebSocket
	// subscriptions) one subject holds open at once: past it SSE answers 429
	// TOO_MANY_REQUESTS and a WebSocket subscribe closes with 1008.
	StreamsPerSubject int
	// CreatesPerSecond caps the creates of one subject, on average, and
	// CreatesBurst is how many may come at once (default: one second's
	// worth, at least 1). Past it a create answers 429 with the time until
	// the next one is allowed as Retry-After.
	CreatesPerSecond float64
	CreatesBurst     int
}

// limiter applies Limits. It is safe for concurrent use.
type limiter struct {
	cfg   Limits
	clock func() time.Time

	mu      sync.Mutex
	streams map[string]int     // open streams by subject
	buckets map[string]*bucket // create tokens by subject
	takes   int                // creates since the last sweep of full buckets
}

// bucket is a subject's token bucket of creates.
type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(cfg Limits, clock func() time.Time) *limiter {
	if cfg.CreatesPerSecond > 0 && cfg.CreatesBurst <= 0 {
		cfg.CreatesBurst = max(1, int(math.Ceil(cfg.CreatesPerSecond)))
	}
	return &limiter{cfg: cfg, clock: clock, streams: map[string]int{}, buckets: map[string]*bucket{}}
}

// openStream counts a stream of the subject and returns the func that
// releases it, or a 429 over the cap.
func (l *limiter) openStream(subject string) (release func(), err error) {
	if l.cfg.StreamsPerSubject <= 0 {
		return func() {}, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.streams[subject] >= l.cfg.StreamsPerSubject {
		return nil, tooMany(time.Second, fmt.Sprintf("this caller already holds %d open streams, the most it may", l.cfg.StreamsPerSubject),
			"streamsPerSubject", l.cfg.StreamsPerSubject)
	}
	l.streams[subject]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.streams[subject]--; l.streams[subject] <= 0 {
				delete(l.streams, subject)
			}
		})
	}, nil
}

// create takes a create token of the subject, or answers 429 with the time
// until the next one.
func (l *limiter) create(subject string) error {
	rate := l.cfg.CreatesPerSecond
	if rate <= 0 {
		return nil
	}
	now := l.clock()
	l.mu.Lock()
	defer l.mu.Unlock()
	burst := float64(l.cfg.CreatesBurst)
	b, ok := l.buckets[subject]
	if !ok {
		b = &bucket{tokens: burst, at: now}
		l.buckets[subject] = b
	}
	b.tokens = min(burst, b.tokens+now.Sub(b.at).Seconds()*rate)
	b.at = now
	if b.tokens < 1 {
		wait := time.Duration((1 - b.tokens) / rate * float64(time.Second))
		return tooMany(wait, fmt.Sprintf("this caller may create %g tasks a second", rate), "createsPerSecond", rate)
	}
	b.tokens--
	if l.takes++; l.takes >= 1024 {
		l.sweep(now)
	}
	return nil
}

// sweep forgets the buckets that are full again: a subject that comes back
// starts with a full one, which is the same. It keeps the map as small as
// the subjects that created lately.
func (l *limiter) sweep(now time.Time) {
	l.takes = 0
	burst := float64(l.cfg.CreatesBurst)
	for subject, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*l.cfg.CreatesPerSecond >= burst {
			delete(l.buckets, subject)
		}
	}
}

// tooMany is the 429 of a limit: its name and value in the details, and
// the time until it allows again as Retry-After.
func tooMany(retryAfter time.Duration, message, limit string, value any) *Error {
	e := newError(http.StatusTooManyRequests, gen.ErrorCodeTooManyRequests, message, "limit", limit, "max", value)
	e.RetryAfter, e.Err = retryAfter, taskbridge.ErrTooManyRequests
	return e
}
