// Package services is the orchestration of taskbridge-go: it implements the
// generated gen.StrictServerInterface on the ports of the root package.
// Hosts wire it through package bridge, which makes the Reporter, the
// executor and the transports and runs the background services; this
// package is for what the bridge does not cover.
//
// # Mounting
//
// API.Mount registers every route of the contract on an Echo router or
// group, where Config.Routes puts it (the task endpoints under any base
// path), each route with its own request guard and error envelope; the
// router's other routes keep the host's error handler and middleware.
//
// # Errors
//
// Every failure of the API's routes is answered with the one error envelope
// {"code","message","details","timestamp"}: the services return *Error or a
// domain sentinel, and one place maps it (and Echo's own binding errors) to
// its status and code. A request that does not match the spec is refused
// by the request guard with 422 naming the field, before a handler runs.
// No answer carries a Go error string. A host's hook refuses a request with
// Reject.
//
// # The contract
//
// Config.Contract declares the host's task types (package taskspec). Create
// refuses another taskType with 400, and an input that breaks its task
// type's schema with 422 and a JSON pointer under /input, before
// idempotency and before anything is stored; then the host's input checks
// and BeforeCreate hook run. An action's payload is checked against the
// schema its task type declares for that action of the open suspension
// (422 under /payload, nothing recorded). The Reporter fails a task whose
// result breaks its schema with CodeInvalidResult instead of completing it.
//
// # Rules
//
// Create is idempotent per (owner, clientRequestId); actions per (task,
// clientActionId); a task that is not the caller's is answered as missing on
// every endpoint. Executors report only through the Reporter, which checks
// each payload against the contract and appends the event together with its
// status move. Drain refuses new creates and waits for those in flight, so
// that every created task reaches the executor before it stops.
package services
