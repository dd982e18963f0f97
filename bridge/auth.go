package bridge

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/taskbridge-go/taskbridge"
)

// AuthFunc is an AuthResolver made of a function.
type AuthFunc func(ctx context.Context, r *http.Request) (taskbridge.Principal, error)

// Resolve calls f.
func (f AuthFunc) Resolve(ctx context.Context, r *http.Request) (taskbridge.Principal, error) {
	return f(ctx, r)
}

// BearerAuth is an AuthResolver over a host's check of bearer tokens: it
// reads the token from the Authorization header ("Bearer <token>") or, for
// browsers, whose EventSource and WebSocket cannot set headers, from the
// access_token query parameter, and hands it to verify. A request without
// a token is taskbridge.ErrUnauthenticated; verify returns it (wrapped) for
// a token it refuses. Either is answered 401 with a Bearer challenge
// (error="invalid_token" for a refused token) and, as details.reason, what
// the error says past the sentinel: fmt.Errorf("%w: the token expired",
// taskbridge.ErrUnauthenticated) tells the client "the token expired".
func BearerAuth(verify func(ctx context.Context, token string) (taskbridge.Principal, error)) taskbridge.AuthResolver {
	return AuthFunc(func(ctx context.Context, r *http.Request) (taskbridge.Principal, error) {
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
		return verify(ctx, token)
	})
}
