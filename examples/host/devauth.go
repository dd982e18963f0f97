package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/services"
)

// devAuth is a DEVELOPMENT-ONLY AuthResolver: it trusts whatever the client
// says. The subject is the bearer token itself (`Authorization: Bearer
// alice`) or the access_token query parameter, for browsers that cannot set
// headers on EventSource and WebSocket. A real host verifies a signed token
// here instead.
type devAuth struct{}

var _ taskbridge.AuthResolver = devAuth{}

// Resolve returns the subject named by the request, or ErrUnauthenticated.
func (devAuth) Resolve(_ context.Context, r *http.Request) (taskbridge.Principal, error) {
	token := r.URL.Query().Get("access_token")
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, value, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return taskbridge.Principal{}, fmt.Errorf("%w: the Authorization header is not a bearer token", taskbridge.ErrUnauthenticated)
		}
		token = strings.TrimSpace(value)
	}
	if token == "" {
		return taskbridge.Principal{}, fmt.Errorf("%w: no bearer token and no access_token", taskbridge.ErrUnauthenticated)
	}
	return taskbridge.Principal{Subject: token}, nil
}

// devOwnership is the example host's OwnershipPolicy: the default owner-only
// access, and subjects named "readonly-..." may read but not create, so that
// the 403 TASK_OWNERSHIP_ERROR path can be seen working.
type devOwnership struct{ services.OwnerOnly }

var _ taskbridge.OwnershipPolicy = devOwnership{}

// CanCreate refuses read-only subjects.
func (devOwnership) CanCreate(_ context.Context, p taskbridge.Principal, _ string) error {
	if strings.HasPrefix(p.Subject, "readonly-") {
		return fmt.Errorf("%w: %s may not create tasks", taskbridge.ErrForbidden, p.Subject)
	}
	return nil
}
