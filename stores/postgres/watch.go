package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/taskbridge-go/taskbridge"
)

// WatchAppends calls fn, on the calling goroutine, after appends to any
// task of this store's schema from any process, until ctx ends; then it
// returns ctx's error, and fn is not called any more.
//
// It holds one connection of its own that LISTENs for the notifications
// appends send at commit, so a process needs one watch (its hub), not one
// connection per reader. As soon as it listens, and again each time it has
// restored a lost connection (with backoff between ReconnectMin and
// ReconnectMax), it calls fn with an empty Announcement: appends may have
// gone unannounced, so readers re-read from their cursors. A connection
// silent for ListenPing is pinged, so that a dead server is noticed.
func (s *Store) WatchAppends(ctx context.Context, fn func(taskbridge.Announcement)) error {
	s.watches.Add(1)
	defer s.watches.Add(-1)
	delay := s.cfg.ReconnectMin
	for {
		listened, err := s.listen(ctx, fn)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if listened {
			delay = s.cfg.ReconnectMin
		}
		s.log.LogAttrs(ctx, slog.LevelWarn, "postgres: notifications lost; reconnecting",
			slog.Any("err", err), slog.Duration("retryIn", delay))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, s.cfg.ReconnectMax)
	}
}

// listen connects, LISTENs and announces until the connection fails or ctx
// ends; listened says whether it got as far as listening.
func (s *Store) listen(ctx context.Context, fn func(taskbridge.Announcement)) (listened bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		return false, err
	}
	s.live.Add(1)
	defer s.live.Add(-1)
	s.log.LogAttrs(ctx, slog.LevelInfo, "postgres: listening for appends", slog.String("channel", s.channel))
	fn(taskbridge.Announcement{}) // from now on no append goes unannounced
	for {
		n, err := s.next(ctx, conn)
		if err != nil {
			return true, err
		}
		a, err := parseNotification(n.Payload)
		if err != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "postgres: ignoring a notification", slog.Any("err", err))
			continue
		}
		if ctx.Err() != nil {
			return true, ctx.Err()
		}
		fn(a)
	}
}

// next waits for the next notification, pinging the connection each time
// it stays silent for ListenPing.
func (s *Store) next(ctx context.Context, conn *pgx.Conn) (*pgconn.Notification, error) {
	for {
		wait, cancel := context.WithTimeout(ctx, s.cfg.ListenPing)
		n, err := conn.WaitForNotification(wait)
		cancel()
		if err == nil {
			return n, nil
		}
		if ctx.Err() != nil || !errors.Is(wait.Err(), context.DeadlineExceeded) {
			return nil, err
		}
		if err := conn.Ping(ctx); err != nil {
			return nil, fmt.Errorf("ping: %w", err)
		}
	}
}

// parseNotification reads the payload "<taskId> <eventId>" that appends send.
func parseNotification(payload string) (taskbridge.Announcement, error) {
	i := strings.LastIndexByte(payload, ' ')
	if i <= 0 {
		return taskbridge.Announcement{}, fmt.Errorf("malformed payload %q", payload)
	}
	taskID := payload[:i]
	eventID, err := strconv.ParseUint(payload[i+1:], 10, 63)
	if err != nil {
		return taskbridge.Announcement{}, fmt.Errorf("malformed payload %q", payload)
	}
	return taskbridge.Announcement{TaskID: taskID, EventID: eventID}, nil
}
