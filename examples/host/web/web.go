// Package web is the example host's demo page: plain HTML, CSS and
// JavaScript, embedded in the host binary. The page follows tasks with the
// TypeScript client package (clients/ts), whose build is copied into
// taskbridge/ by `npm run bundle:web -w clients/ts` and served as ES
// modules; `npm run check` fails when the copy is stale.
//
// # What the page does
//
// It starts a scripted task from a preset (progress, paced ticks, a
// suspension that asks the person to approve or reject, then completion),
// shows the task's events live as they arrive, its status and its progress,
// answers the suspension and cancels the task. The client package follows
// the task over the WebSocket first, falls back to Server-Sent Events and
// then to long-polling when a transport keeps failing, and resumes after
// the last eventId shown on every reconnect, so no event is shown twice or
// skipped.
//
// # Serving
//
// Register adds GET /, /app.js, /style.css and /taskbridge/<module>.js to an
// Echo instance. They are not operations of the API spec, so the services'
// request guard lets them through without authentication; the page sends
// the token itself, as a bearer token on fetch (calls and SSE) and as the
// access_token query parameter on the WebSocket.
//
// # Tests
//
// e2e/page.mjs drives the page in headless Chromium with playwright-core;
// the host's browser_test.go runs it and compares what the page showed with
// the task's stream.
package web

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/labstack/echo/v4"
)

//go:embed index.html app.js style.css taskbridge
var files embed.FS

// contentSecurityPolicy lets the page load only its own script and style
// and talk only to its own origin (which includes its WebSocket).
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Register serves the page on e: GET / (the HTML), GET /app.js, GET
// /style.css and GET /taskbridge/... (the client package's modules). Other
// methods on these paths get Echo's 405, which the host's error handler
// turns into the METHOD_NOT_ALLOWED envelope.
func Register(e *echo.Echo) {
	e.GET("/", asset("index.html", "text/html; charset=utf-8"))
	e.GET("/app.js", asset("app.js", "text/javascript; charset=utf-8"))
	e.GET("/style.css", asset("style.css", "text/css; charset=utf-8"))
	err := fs.WalkDir(files, "taskbridge", func(name string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			e.GET("/"+name, asset(name, "text/javascript; charset=utf-8"))
		}
		return err
	})
	if err != nil {
		panic("web: reading the embedded client package: " + err.Error()) // embedded files do not fail to walk
	}
}

// asset answers with one embedded file.
func asset(name, contentType string) echo.HandlerFunc {
	body, err := files.ReadFile(name)
	if err != nil {
		panic("web: " + name + " is not embedded: " + err.Error()) // the embed line names it
	}
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("Referrer-Policy", "no-referrer")
		return c.Blob(http.StatusOK, contentType, body)
	}
}
