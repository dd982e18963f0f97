package ws

import (
	"net/http"
	"time"

	"github.com/taskbridge-go/taskbridge"
)

// Defaults of Settings, used for its zero fields.
const (
	DefaultHeartbeatInterval = 25 * time.Second
	DefaultPingInterval      = 20 * time.Second
	DefaultPongTimeout       = 60 * time.Second
	DefaultWriteTimeout      = 10 * time.Second
	DefaultSubscribeTimeout  = 10 * time.Second
	DefaultReadLimit         = 4 << 10
	DefaultBatchSize         = 256
	DefaultBatchBytes        = 1 << 20
	DefaultParkAfter         = 100 * time.Millisecond
)

// Settings tune a Server. A zero field means its documented default, so the
// zero value is ready to use.
type Settings struct {
	// HeartbeatInterval is how long a subscribed session may go without
	// sending a frame before it sends a HEARTBEAT frame
	// {"type":"HEARTBEAT","taskId":...,"live":true}. Default 25 s.
	HeartbeatInterval time.Duration
	// PingInterval is how often a ping control frame is sent. Default 20 s.
	PingInterval time.Duration
	// PongTimeout is how long the session waits for any frame from the peer
	// (a pong counts) before it drops the connection as dead. Each frame
	// received moves the deadline. Keep it above PingInterval. Default 60 s.
	PongTimeout time.Duration
	// WriteTimeout bounds each write to the connection, so a peer that stops
	// reading is cut once the network buffers are full; it also bounds the
	// wait for the peer's answer to a close frame. Deadlines are renewed
	// lazily, so a stalled write fails after between half and all of it.
	// Default 10 s.
	WriteTimeout time.Duration
	// SubscribeTimeout is how long a new connection may take to send its
	// subscribe frame before it is closed with 1008. Default 10 s.
	SubscribeTimeout time.Duration
	// ReadLimit bounds one incoming message in bytes; a longer one closes
	// the connection with 1009 (message too big). Up to 16 times the limit
	// (at least 64 KiB) the message is read to one byte past the limit;
	// beyond that the WebSocket library refuses it as soon as its header
	// arrives, without reading it. Default 4 KiB.
	ReadLimit int
	// BatchSize bounds the events taken from the hub at once. Default 256.
	BatchSize int
	// BatchBytes bounds the bytes of the events written at once (a batch
	// holds at least one event), so that a slow peer of a task with large
	// events holds a bounded share of memory. Default 1 MiB. A batch is
	// written before the next is taken, so a slow peer is served at its
	// own pace without holding anyone up; one whose write makes no
	// progress for WriteTimeout is cut and resumes by cursor.
	BatchBytes int
	// ParkAfter is how long a subscribed session with nothing to send
	// keeps the goroutine that writes to it. Past it, the session holds only
	// the goroutine that reads the connection, which saves the other's
	// stack (8 KiB) while it waits; the next event, heartbeat or ping due,
	// frame from the peer or shutdown takes it up again on a new goroutine.
	// Shorter saves memory on streams that pause; longer saves starting
	// goroutines on streams whose events come a little further apart than
	// it. Default 100 ms.
	ParkAfter time.Duration
	// CheckOrigin decides whether to accept an upgrade request from a
	// browser page on another origin. Nil accepts every origin: the TaskBridge
	// clients authenticate with a bearer token or an access_token parameter,
	// which another site's page cannot send on the user's behalf. A host that
	// authenticates WebSockets with cookies must set it (for example to a
	// same-origin check) to prevent cross-site WebSocket hijacking.
	CheckOrigin func(r *http.Request) bool
	// Diagnostics hears when each session subscribes, has replayed and why
	// it closed; nil
	// logs it at debug level on the server's logger.
	Diagnostics taskbridge.Diagnostics
	// Metrics hears what Diagnostics hear, each live event's delivery lag
	// (from its append to the write of its frame) and each heartbeat; nil
	// counts nothing.
	Metrics taskbridge.Metrics
}

// withDefaults returns s with every zero field set to its default.
func (s Settings) withDefaults() Settings {
	set := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	set(&s.HeartbeatInterval, DefaultHeartbeatInterval)
	set(&s.PingInterval, DefaultPingInterval)
	set(&s.PongTimeout, DefaultPongTimeout)
	set(&s.WriteTimeout, DefaultWriteTimeout)
	set(&s.SubscribeTimeout, DefaultSubscribeTimeout)
	set(&s.ParkAfter, DefaultParkAfter)
	if s.ReadLimit <= 0 {
		s.ReadLimit = DefaultReadLimit
	}
	if s.BatchSize <= 0 {
		s.BatchSize = DefaultBatchSize
	}
	if s.BatchBytes <= 0 {
		s.BatchBytes = DefaultBatchBytes
	}
	if s.CheckOrigin == nil {
		s.CheckOrigin = func(*http.Request) bool { return true }
	}
	return s
}

// hardReadLimit is the limit the WebSocket library enforces on its own,
// above which a message is refused without being read.
func (s Settings) hardReadLimit() int64 {
	return max(16*int64(s.ReadLimit), 64<<10)
}
