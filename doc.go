// Package taskbridge is the domain of taskbridge-go, a spec-first toolkit for
// backends that run long tasks (AI jobs, media processing, multi-step
// workflows) for mobile and web clients: a client starts a task, follows its
// events live over WebSocket, SSE or long-polling, resumes after any
// disconnect by cursor, answers the task when it waits for a human, and may
// cancel it.
//
// The wire contract lives in api/openapi.yaml and api/asyncapi.yaml and is
// compatible with the TaskBridge protocol v1; the gen package is generated
// from it by cmd/tbgen. This root package holds the domain types and the
// ports that stores, executors and hosts implement; it imports nothing else
// of the module.
package taskbridge

//go:generate go run ./cmd/tbgen generate
