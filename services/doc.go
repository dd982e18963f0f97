// Package services is the orchestration of taskbridge-go: it implements the
// generated gen.StrictServerInterface on the ports of the root package.
//
// # Wiring
//
// A host builds a Reporter over its store, hands it to its executor, and
// builds the API:
//
//	reporter, _ := services.NewReporter(services.ReporterConfig{Store: store})
//	executor := local.New(local.Config{Reporter: reporter}, types...)
//	api, _ := services.New(services.Config{Store: store, Executor: executor, Reporter: reporter, Auth: auth})
//	api.Register(e) // e is the host's *echo.Echo
//
// and runs the background services, each until its context ends:
// Reconciler (retries resume hand-offs) and Retention (expires suspensions,
// prunes receipts, removes long-ended tasks).
//
// # Errors
//
// Every failure is answered with the one error envelope
// {"code","message","details","timestamp"}: the services return *Error or a
// domain sentinel, and API.HTTPErrorHandler maps it (and Echo's own routing
// and binding errors) to its status and code in one place. A request that
// does not match the spec is refused by the request guard with 422 naming
// the field, before a handler runs. No answer carries a Go error string.
//
// # Rules
//
// Create is idempotent per (owner, clientRequestId); actions per (task,
// clientActionId); a task that is not the caller's is answered as missing on
// every endpoint. Executors report only through the Reporter, which checks
// each payload against the contract and appends the event together with its
// status move.
package services
