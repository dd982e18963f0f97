// Package bridge is the one entry point a host wires: it makes the API of
// the TaskBridge contract from one Config, puts its routes on the host's Echo
// router, and runs and stops everything behind them.
//
// # Task types
//
// A host declares its task types in a task-type spec and generates a
// package from it with tbgen (see cmd/tbgen); the package's TaskTypes(h)
// returns the TaskTypes value of Config: the merged contract, which the
// bridge enforces and serves, and the typed handlers, which run on the
// bridge's in-process executor. Inputs are checked at create, action
// payloads at submit and results before TASK_COMPLETED, each against its
// schema in the contract.
//
// # Wiring
//
//	b, err := bridge.New(bridge.Config{
//		TaskTypes: jobs.TaskTypes(publisher{}),
//		Auth:      bridge.BearerAuth(verifyToken),
//		HTTP:      bridge.HTTP{Base: "/v2/jobs"},
//	})
//	e := echo.New()     // the host's router, with its own routes
//	b.Mount(e)          // or e.Group("/api")
//	err = b.ListenAndServe(context.Background(), ":8080", e) // until SIGTERM
//
// Mount gives each of the API's routes its own request guard and error
// envelope, so the router's other routes keep the host's error handler and
// middleware. A zero field of Config is its documented default: an
// in-memory store, the local executor, owner-only access, the contract's
// paths under /api/v1, and the transports' default settings.
//
// # Lifecycle
//
// New starts nothing. Run runs the fan-out hub, prepares a store that needs
// it (a taskbridge.Preparer, such as PostgreSQL's migrations, retried with
// backoff while /ready answers 503), and then the background work (resume
// hand-offs, suspension expiry, retention) until Shutdown. Shutdown stops in
// order: new creates are refused and those in flight reach the executor;
// SSE responses end, waiting polls are answered and WebSockets close with
// 1001, so that clients resume elsewhere by cursor; the executor stops; the
// background work ends. Serve and ListenAndServe do all of it around an HTTP
// server of their own; a host with its own http.Server calls Run and
// Shutdown, Shutdown before the server's.
//
// # Replicas
//
// Over a store that replicas share (a taskbridge.SharedStore, such as
// PostgreSQL), a task that this process's executor does not run may run on
// another replica: a cancel of it ends it in the store, and a resume is
// left to the replica that runs it, instead of failing the task as lost.
// When the store keeps leases (a taskbridge.LeaseStore), the local executor
// holds one while it runs tasks, and every replica ends the tasks of a
// replica that died with TASK_FAILED EXECUTOR_LOST, within Local.Lease.
package bridge
