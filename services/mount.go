package services

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/taskbridge-go/taskbridge/gen"
)

// Defaults of Routes.
const (
	// DefaultBase is where the contract puts the task endpoints.
	DefaultBase   = "/api/v1"
	DefaultHealth = "/health"
	DefaultReady  = "/ready"
	// Off leaves a route of Routes out.
	Off = "-"
)

// Routes says where Mount puts the routes, relative to the router it is
// given. A zero field is its default.
type Routes struct {
	// Base is the path of the task endpoints, in place of the contract's
	// "/api/v1": with "/v2/jobs", a client creates with POST /v2/jobs/tasks
	// and follows over SSE at /v2/jobs/tasks/{taskId}/events/stream. "/"
	// puts them at the router's root. Default DefaultBase.
	Base string
	// Health and Ready are the paths of liveness and readiness; Off leaves
	// one out (a host that serves its own). Defaults DefaultHealth and
	// DefaultReady.
	Health, Ready string
}

// withDefaults fills zero fields and checks the paths.
func (r Routes) withDefaults() (Routes, error) {
	if r.Base == "" {
		r.Base = DefaultBase
	}
	if r.Health == "" {
		r.Health = DefaultHealth
	}
	if r.Ready == "" {
		r.Ready = DefaultReady
	}
	for _, p := range []string{r.Base, r.Health, r.Ready} {
		if p == Off && p != r.Base {
			continue
		}
		if !strings.HasPrefix(p, "/") || (len(p) > 1 && strings.HasSuffix(p, "/")) || strings.ContainsAny(p, ":*?# ") {
			return r, fmt.Errorf("services: route path %q must start with / and hold no trailing /, parameter, wildcard, query or space", p)
		}
	}
	if r.Base == "/" {
		r.Base = ""
	}
	return r, nil
}

// Path is where a path of the contract (in Echo's form, such as
// "/api/v1/tasks/:taskId") is served; Off for a route left out.
func (r Routes) Path(contractPath string) string {
	switch contractPath {
	case DefaultHealth:
		return r.Health
	case DefaultReady:
		return r.Ready
	}
	if rest, ok := strings.CutPrefix(contractPath, DefaultBase); ok && (rest == "" || rest[0] == '/') {
		return r.Base + rest
	}
	return contractPath
}

// Routes returns where Mount puts the routes, with every default filled
// in ("" for a Base of "/").
func (a *API) Routes() Routes { return a.cfg.Routes }

// Mount registers every route of the contract on router (an *echo.Echo or
// an *echo.Group) where Routes puts it, each with the request guard (auth,
// body limit, validation against the contract) and the error envelope of
// its own; and, under Base, answers unknown paths with ROUTE_NOT_FOUND and
// known paths asked with another method with METHOD_NOT_ALLOWED. The
// router's other routes keep the host's error handler and middleware. Call
// it once per router.
func (a *API) Mount(router gen.EchoRouter) {
	ops := make(map[string][]echo.MiddlewareFunc, len(a.routes))
	var known []routePattern
	for id, r := range a.routes {
		ops[id] = []echo.MiddlewareFunc{a.envelope, a.guard(r)}
		if a.cfg.Tracer != nil {
			ops[id] = append([]echo.MiddlewareFunc{a.traced(id)}, ops[id]...)
		}
		if p := a.cfg.Routes.Path(r.echoPath); p != Off {
			known = append(known, routePattern{method: r.route.Method, path: p})
		}
	}
	mounted := mountRouter{EchoRouter: router, path: a.cfg.Routes.Path}
	gen.RegisterHandlersWithOptions(mounted, gen.NewStreamingStrictHandler(a, nil), gen.RegisterHandlersOptions{OperationMiddlewares: ops})

	base := a.cfg.Routes.Base
	unknown := a.envelope(func(c echo.Context) error {
		// The catch-all's own path tells the prefix of a group it is on.
		prefix := strings.TrimSuffix(strings.TrimSuffix(c.Path(), "/*"), base)
		return unroutable(known, prefix, c)
	})
	for _, p := range []string{base, base + "/*"} {
		if p == "" {
			continue // mounted at the root: the rest of the router is the host's
		}
		for _, add := range []func(string, echo.HandlerFunc, ...echo.MiddlewareFunc) *echo.Route{
			router.GET, router.POST, router.PUT, router.PATCH, router.DELETE, router.HEAD, router.OPTIONS,
		} {
			add(p, unknown)
		}
	}
}

// mountRouter registers the contract's routes where Routes puts them.
type mountRouter struct {
	gen.EchoRouter
	path func(string) string
}

type addRoute func(string, echo.HandlerFunc, ...echo.MiddlewareFunc) *echo.Route

func (m mountRouter) add(add addRoute, path string, h echo.HandlerFunc, mw []echo.MiddlewareFunc) *echo.Route {
	if p := m.path(path); p != Off {
		return add(p, h, mw...)
	}
	return &echo.Route{Path: path, Name: "left out"}
}

func (m mountRouter) GET(p string, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) *echo.Route {
	return m.add(m.EchoRouter.GET, p, h, mw)
}

func (m mountRouter) POST(p string, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) *echo.Route {
	return m.add(m.EchoRouter.POST, p, h, mw)
}

func (m mountRouter) PUT(p string, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) *echo.Route {
	return m.add(m.EchoRouter.PUT, p, h, mw)
}

func (m mountRouter) PATCH(p string, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) *echo.Route {
	return m.add(m.EchoRouter.PATCH, p, h, mw)
}

func (m mountRouter) DELETE(p string, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) *echo.Route {
	return m.add(m.EchoRouter.DELETE, p, h, mw)
}

func (m mountRouter) HEAD(p string, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) *echo.Route {
	return m.add(m.EchoRouter.HEAD, p, h, mw)
}

func (m mountRouter) OPTIONS(p string, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) *echo.Route {
	return m.add(m.EchoRouter.OPTIONS, p, h, mw)
}

func (m mountRouter) CONNECT(p string, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) *echo.Route {
	return m.add(m.EchoRouter.CONNECT, p, h, mw)
}

func (m mountRouter) TRACE(p string, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) *echo.Route {
	return m.add(m.EchoRouter.TRACE, p, h, mw)
}

// routePattern is a mounted route, its path in Echo's form.
type routePattern struct {
	method, path string
}

// matches reports whether a request path has the pattern's shape; a
// ":param" segment matches any non-empty segment.
func (p routePattern) matches(path string) bool {
	want, got := strings.Split(p.path, "/"), strings.Split(path, "/")
	if len(got) != len(want) {
		return false
	}
	for i, seg := range want {
		if seg != got[i] && (!strings.HasPrefix(seg, ":") || got[i] == "") {
			return false
		}
	}
	return true
}

// unroutable answers a request under Base that no route takes: 405 with
// Allow when its path is a route's with another method, else 404. prefix is
// the path of the group the routes are on.
func unroutable(known []routePattern, prefix string, c echo.Context) error {
	var allow []string
	for _, p := range known {
		rest, ok := strings.CutPrefix(c.Request().URL.Path, prefix)
		if ok && p.matches(rest) && !slices.Contains(allow, p.method) {
			allow = append(allow, p.method)
		}
	}
	if len(allow) == 0 {
		return newError(http.StatusNotFound, gen.ErrorCodeRouteNotFound, "no such route")
	}
	slices.Sort(allow)
	c.Response().Header().Set(echo.HeaderAllow, strings.Join(allow, ", "))
	return newError(http.StatusMethodNotAllowed, gen.ErrorCodeMethodNotAllowed, "method not allowed on this route")
}
