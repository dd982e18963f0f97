package hostapp

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/bridge"
)

// devAuth is a DEVELOPMENT-ONLY token check for bridge.BearerAuth: it trusts
// whatever the client says, and the subject is the bearer token itself
// (`Authorization: Bearer alice`, or `?access_token=alice` for browsers). A
// token may carry an expiry, `alice;expires=<unix seconds>`, refused once
// past, so that a client's token refresh can be seen working. A real host
// verifies a signed token here instead.
func devAuth(_ context.Context, token string) (taskbridge.Principal, error) {
	subject, expiry, ok := strings.Cut(token, ";expires=")
	if !ok {
		return taskbridge.Principal{Subject: token}, nil
	}
	seconds, err := strconv.ParseInt(expiry, 10, 64)
	if err != nil {
		return taskbridge.Principal{}, fmt.Errorf("%w: the token's expiry is not a number of seconds", taskbridge.ErrUnauthenticated)
	}
	if !time.Now().Before(time.Unix(seconds, 0)) {
		return taskbridge.Principal{}, fmt.Errorf("%w: the token expired at %s", taskbridge.ErrUnauthenticated, time.Unix(seconds, 0).UTC().Format(time.RFC3339))
	}
	return taskbridge.Principal{Subject: subject}, nil
}

// devOwnership is the example host's OwnershipPolicy: the default owner-only
// access, and subjects named "readonly-..." may read but not create, so that
// the 403 TASK_OWNERSHIP_ERROR path can be seen working.
type devOwnership struct{ bridge.OwnerOnly }

var _ taskbridge.OwnershipPolicy = devOwnership{}

// CanCreate refuses read-only subjects.
func (devOwnership) CanCreate(_ context.Context, p taskbridge.Principal, _ string) error {
	if strings.HasPrefix(p.Subject, "readonly-") {
		return fmt.Errorf("%w: %s may not create tasks", taskbridge.ErrForbidden, p.Subject)
	}
	return nil
}
