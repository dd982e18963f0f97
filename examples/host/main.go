// Command host is the example taskbridge-go host: the contract served by
// Echo over the in-memory or the PostgreSQL store and the local executor,
// with the `scripted` and `echo` task types. Every end-to-end test,
// benchmark and browser test runs against it. Its wiring is package
// hostapp, which the Temporal host (adapters/temporal/examples/host) runs
// with an executor on Temporal.
//
//	go run ./examples/host -addr 127.0.0.1:8080
//	go run ./examples/host -store postgres -postgres-url postgres://app@127.0.0.1/app
//
// With PostgreSQL, several hosts on different addresses share one database
// as replicas: a client may create on one, stream from another and resume
// on a third. The host starts while the database is down: /ready answers 503
// until the schema is migrated (retried with backoff) and the notification
// connection is up.
//
// Flags may also be set through TASKBRIDGE_* environment variables (for
// -addr, TASKBRIDGE_ADDR); a flag on the command line wins; -h lists them.
// Authentication is a development resolver: `Authorization: Bearer
// <subject>` or `?access_token=<subject>`, and the subject owns what it
// creates.
//
// It also serves a demo page at / (package web) that starts a scripted task
// and shows its events live, and Prometheus metrics at /metrics (package
// prommetrics, with the Go runtime's and the process's; -metrics=false
// turns them off). With OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) set it exports OpenTelemetry traces
// over OTLP/HTTP.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/taskbridge-go/taskbridge/examples/host/hostapp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil))
}

// run is the host: hostapp.Main with the local executor only.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready chan<- string) int {
	return hostapp.Main(ctx, args, stdout, stderr, ready)
}
