package services

import (
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/taskbridge-go/taskbridge/gen"
)

// stallGuard cuts a request body that stalls: before each read it moves the
// connection's read deadline timeout ahead, so that a body whose sender
// stops sending fails its read after timeout instead of holding the
// connection forever. Once the body is read to its end the deadline is
// lifted, so that a response (or a stream) is not bound by it; when the
// request ends with the body unread, the deadline stays, so that the
// server's reading of the rest is bounded too. It is used by the request's
// goroutine only.
type stallGuard struct {
	io.ReadCloser
	rc       *http.ResponseController
	timeout  time.Duration
	ended    bool // the body was read to its end
	timedOut bool // a read stalled past the timeout
}

func newStallGuard(body io.ReadCloser, w http.ResponseWriter, timeout time.Duration) *stallGuard {
	return &stallGuard{ReadCloser: body, rc: http.NewResponseController(w), timeout: timeout}
}

// Read reads under a fresh deadline.
func (g *stallGuard) Read(p []byte) (int, error) {
	if g.ended || g.timedOut {
		return g.ReadCloser.Read(p)
	}
	if err := g.setDeadline(time.Now().Add(g.timeout)); err != nil {
		return 0, err
	}
	n, err := g.ReadCloser.Read(p)
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF):
		g.ended = true
		_ = g.setDeadline(time.Time{}) // a connection that cannot is closed anyway
	case errors.As(err, &ne) && ne.Timeout():
		g.timedOut = true // the deadline stays: the connection is done
	}
	return n, err
}

func (g *stallGuard) setDeadline(t time.Time) error {
	if err := g.rc.SetReadDeadline(t); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// verdict is what the request answers once it is handled. When its body
// stalled, whatever failed on the way is a 408, and the connection, whose
// reads are broken, is closed. When the body was left unread, the server's
// reading of the rest gets one more timeout, not forever.
func (g *stallGuard) verdict(err error, c echo.Context) error {
	if !g.ended && !g.timedOut {
		_ = g.setDeadline(time.Now().Add(g.timeout))
	}
	if err == nil || !g.timedOut {
		return err
	}
	c.Response().Header().Set(echo.HeaderConnection, "close")
	e := newError(http.StatusRequestTimeout, gen.ErrorCodeInvalidRequest, "the request body stalled; send it whole")
	e.Err = err
	return e
}
