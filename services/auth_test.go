package services_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/gen"
	"github.com/taskbridge-go/taskbridge/services"
)

// tokens resolves bearer tokens the way a host would: "good" is alice, any
// other token has expired, no token is refused with a reason, and the token
// "broken" makes the resolver itself fail.
type tokens struct{}

func (tokens) Resolve(_ context.Context, r *http.Request) (taskbridge.Principal, error) {
	token := r.URL.Query().Get("access_token")
	if scheme, value, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && scheme == "Bearer" {
		token = value
	}
	switch token {
	case "":
		return taskbridge.Principal{}, fmt.Errorf("%w: no bearer token", taskbridge.ErrUnauthenticated)
	case "good":
		return taskbridge.Principal{Subject: "alice"}, nil
	case "broken":
		return taskbridge.Principal{}, errors.New("token store: dial tcp 10.0.0.7:5432: connection refused")
	}
	return taskbridge.Principal{}, fmt.Errorf("%w: the token expired", taskbridge.ErrUnauthenticated)
}

// refused sends a request and requires a 401 envelope; it returns the
// challenge and the details.
func refused(t *testing.T, f *fixture, method, path string, header http.Header) (string, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, f.server.URL+path, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusUnauthorized, res.StatusCode, "%s %s", method, path)
	var body map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
	require.Equal(t, string(gen.ErrorCodeAuthenticationError), body["code"])
	return res.Header.Get("WWW-Authenticate"), body["details"].(map[string]any)
}

func TestUnauthenticatedIsChallengedWithTheReason(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *services.Config) { c.Auth = tokens{} })
	websocket := http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"},
		"Sec-Websocket-Version": {"13"}, "Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}}
	for _, ep := range []struct {
		method, path string
		header       http.Header
	}{
		{http.MethodGet, "/api/v1/tasks/t1", nil},
		{http.MethodPost, "/api/v1/tasks/t1/cancel", nil},
		{http.MethodGet, "/api/v1/tasks/t1/events/stream", http.Header{"Accept": {"text/event-stream"}}},
		{http.MethodGet, "/api/v1/tasks/ws", websocket},
	} {
		with := func(extra ...string) http.Header {
			h := ep.header.Clone()
			if h == nil {
				h = http.Header{}
			}
			for i := 0; i+1 < len(extra); i += 2 {
				h.Set(extra[i], extra[i+1])
			}
			return h
		}
		path := ep.method + " " + ep.path
		c, details := refused(t, f, ep.method, ep.path, with())
		require.Equal(t, `Bearer realm="taskbridge"`, c, "%s without a token: no error code", path)
		require.Equal(t, map[string]any{"reason": "no bearer token"}, details, path)

		c, details = refused(t, f, ep.method, ep.path, with("Authorization", "Bearer old"))
		require.Equal(t, `Bearer realm="taskbridge", error="invalid_token"`, c, "%s with a refused token", path)
		require.Equal(t, map[string]any{"reason": "the token expired"}, details, path)

		c, details = refused(t, f, ep.method, ep.path+"?access_token=old", with())
		require.Equal(t, `Bearer realm="taskbridge", error="invalid_token"`, c, "%s with a refused access_token", path)
		require.Equal(t, map[string]any{"reason": "the token expired"}, details, path)

		c, details = refused(t, f, ep.method, ep.path, with("Authorization", "Bearer broken"))
		require.Equal(t, `Bearer realm="taskbridge"`, c, "%s: the resolver failed; no token was judged", path)
		require.Empty(t, details, "%s: an internal failure gives no reason", path)
	}
}

func TestRealmOfTheChallenge(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *services.Config) {
		c.Auth = tokens{}
		c.Realm = `jobs "v2" \ prod`
	})
	c, _ := refused(t, f, http.MethodGet, "/api/v1/tasks/t1", http.Header{"Authorization": {"Bearer old"}})
	require.Equal(t, `Bearer realm="jobs \"v2\" \\ prod", error="invalid_token"`, c)

	for _, bad := range []string{"a\r\nSet-Cookie: x=1", "tab\there", "ünï"} {
		_, err := services.New(services.Config{Store: f.store, Contract: testContract(t), Executor: &fakeExecutor{},
			Reporter: f.reporter, Auth: tokens{}, Realm: bad})
		require.Error(t, err, "%q", bad)
	}
}
