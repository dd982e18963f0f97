package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/bridge"
)

// devAuth is a DEVELOPMENT-ONLY token check for bridge.BearerAuth: it trusts
// whatever the client says, and the subject is the bearer token itself
// (`Authorization: Bearer alice`, or `?access_token=alice` for browsers). A
// real host verifies a signed token here instead.
func devAuth(_ context.Context, token string) (taskbridge.Principal, error) {
	return taskbridge.Principal{Subject: token}, nil
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
