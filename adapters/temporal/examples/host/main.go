// Command host is the example taskbridge-go host (package hostapp of
// examples/host) with one more executor, `temporal`: its `scripted` and
// `echo` task types run as Temporal workflows (package tasks), so a task
// goes on across the death of every host process. It lives in the Temporal
// module so that the root module never requires the Temporal SDK.
//
//	go run ./examples/host -executor temporal -temporal-address 127.0.0.1:7233 \
//	    -store postgres -postgres-url postgres://app@127.0.0.1/app
//
// By default each process runs the API and a Temporal worker. With
// -temporal-worker=false a process serves the API and starts, cancels and
// resumes workflows, and runs none: run the workflows in another process,
// the same command with the worker on (its API on another -addr, or
// unused). Any number of either may share the database and the task queue.
//
// Every process also runs the temporal.Reconciler, which ends with
// TASK_FAILED the tasks whose workflows were terminated, timed out or
// failed outside taskbridge, every -temporal-reconcile-interval.
//
// All of the example host's flags work as they do there (-h lists them with
// their TASKBRIDGE_* variables); -executor local (the default) is the
// example host itself.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/taskbridge-go/taskbridge/examples/host/hostapp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(hostapp.Main(ctx, os.Args[1:], os.Stdout, os.Stderr, nil, hostapp.WithExecutor(temporalExecutor())))
}
