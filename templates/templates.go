// Package templates holds the text/template files with which tbgen writes the
// parts of gen/ that oapi-codegen does not: the streaming response adapters, the
// WebSocket and SSE frame unions with their constants, and the typed event
// payload helpers. They are embedded in the tbgen binary.
package templates

import "embed"

// FS holds every *.tmpl file of this directory.
//
//go:embed *.tmpl
var FS embed.FS
