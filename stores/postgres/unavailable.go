package postgres

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/taskbridge-go/taskbridge"
)

// unavailable wraps *err with taskbridge.ErrUnavailable when it says that
// the database cannot be reached: a failed connect, a connection that was
// lost or closed, or a server that is shutting down or starting up. The
// services answer it with 503 SERVICE_UNAVAILABLE and Retry-After. A
// connection lost during a commit leaves the outcome unknown; the requests
// that write are idempotent, so a retry finds out.
func unavailable(err *error) {
	if *err == nil || errors.Is(*err, taskbridge.ErrUnavailable) || !unreachable(*err) {
		return
	}
	*err = fmt.Errorf("%w: %w", taskbridge.ErrUnavailable, *err)
}

func unreachable(err error) bool {
	var ce *pgconn.ConnectError
	var pe *pgconn.PgError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.Is(err, pgconn.ErrConnClosed):
		return true
	case errors.As(err, &pe):
		// Class 08: connection exception; 57P01..57P03: admin or crash
		// shutdown, cannot connect now.
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	case errors.As(err, &ne):
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)
}
