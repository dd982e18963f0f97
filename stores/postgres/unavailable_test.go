package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
)

// A database that cannot be reached is taskbridge.ErrUnavailable; what the
// database refuses is not.
func TestUnreachableIsUnavailable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there any more
	s, err := Open(Config{URL: "postgres://nobody@" + addr + "/none?sslmode=disable&connect_timeout=5"})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	_, err = s.GetTask(context.Background(), "t1")
	require.ErrorIs(t, err, taskbridge.ErrUnavailable, "a refused connect: %v", err)
	_, _, err = s.CreateTask(context.Background(), taskbridge.NewTask{ID: "t1"})
	require.ErrorIs(t, err, taskbridge.ErrUnavailable)

	for name, c := range map[string]struct {
		err  error
		want bool
	}{
		"conn closed":     {fmt.Errorf("wrapped: %w", pgconn.ErrConnClosed), true},
		"admin shutdown":  {&pgconn.PgError{Code: "57P01"}, true},
		"connection lost": {&pgconn.PgError{Code: "08006"}, true},
		"cut mid-read":    {fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		"unique violated": {&pgconn.PgError{Code: "23505"}, false},
		"task not found":  {taskbridge.ErrTaskNotFound, false},
		"anything else":   {errors.New("boom"), false},
	} {
		err := c.err
		unavailable(&err)
		require.Equal(t, c.want, errors.Is(err, taskbridge.ErrUnavailable), name)
		require.ErrorIs(t, err, c.err, "%s: the cause stays", name)
	}
}
