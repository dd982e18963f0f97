package services

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/labstack/echo/v4"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/gen"
	"github.com/taskbridge-go/taskbridge/taskspec"
)

type principalKey struct{}

// WithPrincipal returns ctx carrying the caller p.
func WithPrincipal(ctx context.Context, p taskbridge.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the caller that the request guard resolved.
func PrincipalFrom(ctx context.Context) (taskbridge.Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(taskbridge.Principal)
	return p, ok
}

// apiRoute is one operation of the embedded spec.
type apiRoute struct {
	route *routers.Route
	// echoPath is the contract's path in Echo's form, "/api/v1/tasks/:taskId".
	echoPath string
	secured  bool
}

// routeTable indexes the spec's operations by operationId.
func routeTable(spec *openapi3.T) map[string]apiRoute {
	table := map[string]apiRoute{}
	for path, item := range spec.Paths.Map() {
		echoPath := strings.NewReplacer("{", ":", "}", "").Replace(path)
		for method, op := range item.Operations() {
			security := spec.Security
			if op.Security != nil {
				security = *op.Security
			}
			// The guard resolves the caller itself; openapi3filter's own
			// security check would read the whole body into memory first,
			// so the operation it validates has no security requirements.
			unsecured := *op
			unsecured.Security = &openapi3.SecurityRequirements{}
			table[op.OperationID] = apiRoute{
				route:    &routers.Route{Spec: spec, Path: path, PathItem: item, Method: method, Operation: &unsecured},
				echoPath: echoPath,
				secured:  len(security) > 0,
			}
		}
	}
	return table
}

// guard is the middleware in front of one operation of the spec: it
// resolves the caller where the operation is secured, bounds the body, and
// validates the request against the embedded spec. Multipart bodies are not
// validated here: create checks them while it streams them.
func (a *API) guard(r apiRoute) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			if r.secured {
				if err := a.storeReady(); err != nil {
					return err
				}
				if err := a.authenticate(c); err != nil {
					return err
				}
			}
			mediaType, err := contentType(c.Request())
			if err != nil {
				return err
			}
			multipart := mediaType == echo.MIMEMultipartForm
			if body := a.guardBody(c, multipart); body != nil {
				defer func() { err = body.verdict(err, c) }()
				if mediaType == echo.MIMEApplicationJSON {
					if err := strictJSON(c.Request()); err != nil {
						return err
					}
				}
			}
			if err := validate(c, r, multipart); err != nil {
				return err
			}
			return next(c)
		}
	}
}

// storeReady answers 503 NOT_READY (with the Retry-After of every 503)
// while the store is not ready to serve.
func (a *API) storeReady() error {
	select {
	case <-a.cfg.StoreReady:
		return nil
	default:
	}
	if a.cfg.StoreReady == nil {
		return nil
	}
	return newError(http.StatusServiceUnavailable, gen.ErrorCodeNotReady, "the store is not ready yet; retry shortly")
}

// authenticate resolves the caller into the request's context, or answers
// 401 with the resolver's reason. A request without credentials that
// announced a body is answered at once and its connection closed, instead
// of reading the body to keep the connection: its sender may never send it.
func (a *API) authenticate(c echo.Context) error {
	req := c.Request()
	p, err := a.cfg.Auth.Resolve(req.Context(), req)
	if err != nil {
		if !errors.Is(err, taskbridge.ErrUnauthenticated) {
			a.log.LogAttrs(req.Context(), slog.LevelError, "auth resolver failed", slog.Any("err", err))
		}
		if req.ContentLength != 0 {
			c.Response().Header().Set(echo.HeaderConnection, "close")
			_ = http.NewResponseController(c.Response()).SetReadDeadline(time.Now())
		}
		e := unauthenticated(err, carriesToken(req))
		e.Err = err
		return e
	}
	c.SetRequest(req.WithContext(WithPrincipal(req.Context(), p)))
	return nil
}

// carriesToken reports whether the request carries a token where the
// contract's security schemes put one: a bearer token in Authorization,
// or the access_token query parameter.
func carriesToken(req *http.Request) bool {
	scheme, token, _ := strings.Cut(req.Header.Get(echo.HeaderAuthorization), " ")
	if strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(token) != "" {
		return true
	}
	return req.URL.Query().Get("access_token") != ""
}

// contentType is the request's media type; a multipart one needs a valid
// boundary.
func contentType(req *http.Request) (string, error) {
	mediaType, params, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	if mediaType == echo.MIMEMultipartForm && (err != nil || !validBoundary(params["boundary"])) {
		return "", newError(http.StatusBadRequest, gen.ErrorCodeInvalidRequest,
			"a multipart/form-data body needs a boundary parameter of 1 to 70 characters (RFC 2046)", "field", "Content-Type")
	}
	return mediaType, nil
}

// guardBody puts the request's body, if it has one, under the stall guard
// and, unless it is multipart (which create bounds while it streams it),
// under the body size limit.
func (a *API) guardBody(c echo.Context, multipart bool) *stallGuard {
	req := c.Request()
	if req.Body == nil || req.Body == http.NoBody {
		return nil
	}
	body := newStallGuard(req.Body, c.Response(), a.cfg.BodyReadTimeout)
	req.Body = body
	if !multipart {
		req.Body = http.MaxBytesReader(c.Response(), req.Body, a.cfg.MaxBodyBytes)
	}
	return body
}

// validate checks the request against its operation of the embedded spec;
// a multipart body is left to create, which checks it while it streams it.
func validate(c echo.Context, r apiRoute, multipart bool) error {
	params := make(map[string]string, len(c.ParamNames()))
	for _, name := range c.ParamNames() {
		params[name] = c.Param(name)
	}
	req := c.Request()
	input := &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: params,
		Route:      r.route,
		Options: &openapi3filter.Options{
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
			ExcludeRequestBody: multipart,
		},
	}
	if err := openapi3filter.ValidateRequest(req.Context(), input); err != nil {
		return validationError(err)
	}
	return nil
}

// strictJSON reads a JSON body whole and refuses one that is not exactly
// one JSON value: the decoders behind it stop at the end of the first value
// and would take `{...}}` or `{...} {...}` for the first alone. The body is
// put back for them.
func strictJSON(req *http.Request) error {
	data, err := io.ReadAll(req.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return validationError(err)
		}
		e := newError(http.StatusBadRequest, gen.ErrorCodeInvalidRequest, "the request body could not be read", "field", "body")
		e.Err = err
		return e
	}
	if !json.Valid(data) {
		return newError(http.StatusBadRequest, gen.ErrorCodeInvalidRequest, "the request body is not valid JSON", "field", "body")
	}
	req.Body = io.NopCloser(bytes.NewReader(data))
	return nil
}

// validBoundary reports whether b is a multipart boundary RFC 2046 allows:
// 1 to 70 of its characters, not ending with a space.
func validBoundary(b string) bool {
	if b == "" || len(b) > 70 || b[len(b)-1] == ' ' {
		return false
	}
	for _, r := range b {
		ok := 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("'()+_,-./:=? ", r)
		if !ok {
			return false
		}
	}
	return true
}

// validationError turns an openapi3filter failure into the envelope: a
// request that does not match the spec is 422 naming the field; a body that
// cannot be read as its content type at all is 400; an oversized one 413.
func validationError(err error) *Error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return newError(http.StatusRequestEntityTooLarge, gen.ErrorCodeInvalidRequest,
			"the request body is too large", "limitBytes", tooLarge.Limit)
	}
	var re *openapi3filter.RequestError
	if !errors.As(err, &re) {
		return &Error{Status: http.StatusUnprocessableEntity, Code: gen.ErrorCodeRequestValidationError,
			Message: "the request does not match the API", Details: map[string]any{}, Err: err}
	}
	if re.Parameter != nil {
		e := unprocessable(re.Parameter.Name, parameterReason(re))
		e.Details["in"] = re.Parameter.In
		e.Err = err
		return e
	}
	var se *openapi3.SchemaError
	switch {
	case errors.As(err, &se):
		e := unprocessable(schemaField(se), se.Reason)
		e.Err = err
		return e
	case errors.Is(err, openapi3filter.ErrInvalidRequired):
		e := unprocessable("body", "a request body is required")
		e.Err = err
		return e
	case strings.HasPrefix(re.Reason, "header Content-Type has unexpected value"):
		return &Error{Status: http.StatusBadRequest, Code: gen.ErrorCodeInvalidRequest,
			Message: "unsupported content type", Details: map[string]any{"field": "Content-Type"}, Err: err}
	}
	return &Error{Status: http.StatusBadRequest, Code: gen.ErrorCodeInvalidRequest,
		Message: "the request body is not valid JSON", Details: map[string]any{"field": "body"}, Err: err}
}

// parameterReason says what is wrong with a parameter without Go internals.
func parameterReason(re *openapi3filter.RequestError) string {
	var se *openapi3.SchemaError
	if errors.As(re.Err, &se) {
		return se.Reason
	}
	if errors.Is(re.Err, openapi3filter.ErrInvalidRequired) {
		return "is required"
	}
	var pe *openapi3filter.ParseError
	if errors.As(re.Err, &pe) {
		return "cannot be parsed as its type"
	}
	return "is invalid"
}

// schemaField is the JSON pointer of the value a schema error is about.
func schemaField(se *openapi3.SchemaError) string {
	return cmp.Or(taskspec.FieldOf(se), "/")
}

// envelope is the middleware of every route Mount adds: it answers what
// the route fails with as the error envelope, so that the host's own error
// handler never sees the API's errors, nor the API the host's.
// A panic of the route is answered as a 500 too, and logged with its stack.
func (a *API) envelope(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v) // the connection is to be cut, not answered
				}
				a.writeError(fmt.Errorf("panic: %v\n%s", v, debug.Stack()), c)
			}
		}()
		if err := next(c); err != nil {
			a.writeError(err, c)
		}
		return nil
	}
}

// requestAttrs describe a request answered with an error: its route, the
// task it names, the error code and the error.
func requestAttrs(c echo.Context, e *Error, err error) []slog.Attr {
	attrs := []slog.Attr{slog.String("method", c.Request().Method), slog.String("route", c.Path())}
	if id := c.Param("taskId"); id != "" {
		attrs = append(attrs, slog.String("taskId", id))
	}
	return append(attrs, slog.String("code", string(e.Code)), slog.Any("err", err))
}

// writeError writes err as the envelope with its status: the services' own
// errors, domain sentinels, Echo's binding errors, and anything else as a
// 500 that carries no Go error string.
func (a *API) writeError(err error, c echo.Context) {
	e := a.errorFor(err)
	ctx := c.Request().Context()
	if e.Status >= http.StatusInternalServerError {
		a.log.LogAttrs(ctx, slog.LevelError, "request failed", requestAttrs(c, e, err)...)
	} else if a.log.Enabled(ctx, slog.LevelDebug) {
		a.log.LogAttrs(ctx, slog.LevelDebug, "request refused", requestAttrs(c, e, err)...)
	}
	a.cfg.Metrics.RequestFailed(c.Path(), string(e.Code))
	if c.Response().Committed {
		return
	}
	if e.Status == http.StatusServiceUnavailable && e.RetryAfter <= 0 {
		e.RetryAfter = unavailableRetryAfter
	}
	if e.RetryAfter > 0 {
		seconds := (e.RetryAfter + time.Second - 1) / time.Second
		c.Response().Header().Set("Retry-After", strconv.FormatInt(int64(seconds), 10))
	}
	if e.Status == http.StatusUnauthorized {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, challenge(a.cfg.Realm, e))
	}
	body := gen.ErrorResponse{Code: e.Code, Message: e.Message, Details: e.Details, Timestamp: a.now()}
	if body.Details == nil {
		body.Details = gen.ErrorDetails{}
	}
	if err := c.JSON(e.Status, body); err != nil {
		a.log.LogAttrs(ctx, slog.LevelDebug, "writing error response failed", slog.Any("err", err))
	}
}

// errorFor maps err, including Echo's own errors, to the envelope.
func (a *API) errorFor(err error) *Error {
	var he *echo.HTTPError
	if !errors.As(err, &he) {
		return envelope(err)
	}
	var e *Error
	switch he.Code {
	case http.StatusNotFound:
		e = newError(he.Code, gen.ErrorCodeRouteNotFound, "no such route")
	case http.StatusMethodNotAllowed:
		e = newError(he.Code, gen.ErrorCodeMethodNotAllowed, "method not allowed on this route")
	case http.StatusRequestEntityTooLarge:
		e = newError(he.Code, gen.ErrorCodeInvalidRequest, "the request body is too large")
	case http.StatusUnsupportedMediaType:
		e = newError(http.StatusBadRequest, gen.ErrorCodeInvalidRequest, "unsupported content type", "field", "Content-Type")
	case http.StatusUnauthorized:
		e = newError(he.Code, gen.ErrorCodeAuthenticationError, "authentication required")
	case http.StatusServiceUnavailable:
		e = newError(he.Code, gen.ErrorCodeNotReady, "not ready")
	default:
		if he.Code >= 500 {
			e = newError(http.StatusInternalServerError, gen.ErrorCodeInternalError, "internal error")
		} else {
			e = newError(he.Code, gen.ErrorCodeInvalidRequest, "the request cannot be used")
			if he.Code == http.StatusBadRequest {
				e.Message = "the request body or parameters cannot be parsed"
			}
		}
	}
	e.Err = err
	return e
}

// now is the services' clock, in UTC.
func (a *API) now() time.Time { return a.cfg.Clock().UTC() }
