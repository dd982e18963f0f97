// Package api_test proves the contract wire-compatible with the TaskBridge
// protocol v1: the reference examples validate against the project's own
// schemas, and the project's schemas accept exactly what the reference
// schemas accept on the examples and on invalid variants of them.
package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge/internal/protocoltest"
)

// protocolDir holds the reference schemas and examples, beside the
// repository; without them the test skips (fails in CI).
func protocolDir(t *testing.T) string {
	t.Helper()
	return protocoltest.Dir(t)
}

// ourSchemaFor maps each reference example to the schema of ours it is an instance of.
var ourSchemaFor = map[string]string{
	"poll_events_response.json":        "PollEventsResponse",
	"task_action_accepted.json":        "TaskEvent",
	"task_cancelled.json":              "TaskEvent",
	"task_completed.json":              "TaskEvent",
	"task_failed.json":                 "TaskEvent",
	"task_message.json":                "TaskEvent",
	"task_progress.json":               "TaskEvent",
	"task_started.json":                "TaskEvent",
	"task_suspended.json":              "TaskEvent",
	"websocket_heartbeat.json":         "HeartbeatFrame",
	"websocket_subscribe_ack.json":     "SubscriptionConfirmedFrame",
	"websocket_subscribe_request.json": "SubscribeFrame",
}

func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile("openapi.yaml")
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()))
	return doc
}

// ours validates v against a component schema of api/openapi.yaml, formats included.
func ours(doc *openapi3.T, schema string, v any) error {
	return doc.Components.Schemas[schema].Value.VisitJSON(v, openapi3.EnableFormatValidation())
}

// reference compiles a reference schema; formats are asserted, as the schema intends.
func reference(t *testing.T, name string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	s, err := c.Compile(filepath.Join(protocolDir(t), "schemas", name))
	require.NoError(t, err)
	return s
}

func readJSON(t *testing.T, path string) any {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var v any
	require.NoError(t, json.Unmarshal(data, &v))
	return v
}

// TestEveryExampleHasASchema keeps ourSchemaFor in step with the examples folder.
func TestEveryExampleHasASchema(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join(protocolDir(t), "examples"))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	var mapped []string
	for name := range ourSchemaFor {
		mapped = append(mapped, name)
	}
	sort.Strings(mapped)
	require.Equal(t, names, mapped)
}

func TestProtocolExamplesValidateAgainstOurSchemas(t *testing.T) {
	doc := loadOpenAPI(t)
	for file, schema := range ourSchemaFor {
		t.Run(file, func(t *testing.T) {
			v := readJSON(t, filepath.Join(protocolDir(t), "examples", file))
			require.NoError(t, ours(doc, schema, v))
		})
	}
}

// TestTaskEventAcceptsExactlyWhatTheReferenceAccepts compares verdicts on every
// event example and on invalid variants of each.
func TestTaskEventAcceptsExactlyWhatTheReferenceAccepts(t *testing.T) {
	doc := loadOpenAPI(t)
	ref := reference(t, "task_event.schema.json")
	rejectedByReference := 0
	for file, schema := range ourSchemaFor {
		if schema != "TaskEvent" {
			continue
		}
		example := readJSON(t, filepath.Join(protocolDir(t), "examples", file)).(map[string]any)
		for _, c := range eventVariants(example) {
			t.Run(file+"/"+c.name, func(t *testing.T) {
				refErr := ref.Validate(c.value)
				ourErr := ours(doc, "TaskEvent", c.value)
				require.Equal(t, refErr == nil, ourErr == nil,
					"reference says %v, ours says %v, for %s", refErr, ourErr, mustJSON(c.value))
			})
			if ref.Validate(c.value) != nil {
				rejectedByReference++
			}
		}
	}
	// The variants must mostly be invalid, or the comparison proves little.
	require.Greater(t, rejectedByReference, 100)
}

// TestClientActionSchemasMatchTheReference compares the action request and
// response schemas on valid and invalid instances.
func TestClientActionSchemasMatchTheReference(t *testing.T) {
	doc := loadOpenAPI(t)
	cases := []struct {
		ref, ours string
		valid     map[string]any
	}{
		{"task_client_action.schema.json", "TaskClientAction", map[string]any{
			"clientActionId": "a-1", "suspendId": "s-1", "actionType": "approve",
			"payload": map[string]any{"note": "ok"}, "metadata": map[string]any{},
		}},
		{"task_client_action_response.schema.json", "TaskClientActionResponse", map[string]any{
			"taskId": "task-1", "suspendId": "s-1", "clientActionId": "a-1", "status": "ACCEPTED",
		}},
	}
	for _, c := range cases {
		ref := reference(t, c.ref)
		for _, v := range objectVariants("", c.valid) {
			t.Run(c.ours+"/"+v.name, func(t *testing.T) {
				refErr := ref.Validate(v.value)
				ourErr := ours(doc, c.ours, v.value)
				require.Equal(t, refErr == nil, ourErr == nil,
					"reference says %v, ours says %v, for %s", refErr, ourErr, mustJSON(v.value))
			})
		}
	}
}

type variantCase struct {
	name  string
	value any
}

// eventVariants returns the example itself and variants of it: each envelope
// field missing or of the wrong type, an extra envelope field, an unknown type,
// and the same kinds of change inside the payload.
func eventVariants(example map[string]any) []variantCase {
	out := objectVariants("", example)
	payload, _ := example["payload"].(map[string]any)
	for _, v := range objectVariants("payload.", payload) {
		e := clone(example).(map[string]any)
		e["payload"] = v.value
		out = append(out, variantCase{v.name, e})
	}
	for name, change := range map[string]func(e map[string]any){
		"unknown type":        func(e map[string]any) { e["type"] = "TASK_EXPLODED" },
		"heartbeat type":      func(e map[string]any) { e["type"] = "HEARTBEAT" },
		"date without zone":   func(e map[string]any) { e["createdAt"] = "2026-05-04 12:00" },
		"progress over 100":   func(e map[string]any) { setPayload(e, "progress", 150) },
		"progress below 0":    func(e map[string]any) { setPayload(e, "progress", -1) },
		"unknown level":       func(e map[string]any) { setPayload(e, "level", "loud") },
		"unknown kind":        func(e map[string]any) { setPayload(e, "kind", "PLEASE_WAIT") },
		"no allowed actions":  func(e map[string]any) { setPayload(e, "allowedActions", []any{}) },
		"schema version 0":    func(e map[string]any) { setPayload(e, "schemaVersion", 0) },
		"null expiresAt":      func(e map[string]any) { setPayload(e, "expiresAt", nil) },
		"bad expiresAt":       func(e map[string]any) { setPayload(e, "expiresAt", "tomorrow") },
		"null result":         func(e map[string]any) { setPayload(e, "result", nil) },
		"string result":       func(e map[string]any) { setPayload(e, "result", "done") },
		"retryable as string": func(e map[string]any) { setPayload(e, "retryable", "no") },
		"bad acceptedAt":      func(e map[string]any) { setPayload(e, "acceptedAt", "now") },
	} {
		e := clone(example).(map[string]any)
		change(e)
		out = append(out, variantCase{name, e})
	}
	return out
}

// objectVariants returns obj itself, then obj with each field removed, each
// field replaced by a value of another JSON type, and one unknown field added.
func objectVariants(prefix string, obj map[string]any) []variantCase {
	out := []variantCase{{prefix + "as is", clone(obj)}}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		without := clone(obj).(map[string]any)
		delete(without, k)
		out = append(out, variantCase{prefix + k + " missing", without})
		for i, wrong := range []any{float64(42), "text", true, nil, []any{"x"}, map[string]any{"x": 1.0}} {
			if sameJSONType(wrong, obj[k]) {
				continue
			}
			changed := clone(obj).(map[string]any)
			changed[k] = wrong
			out = append(out, variantCase{fmt.Sprintf("%s%s as %T #%d", prefix, k, wrong, i), changed})
		}
	}
	extra := clone(obj).(map[string]any)
	extra["unexpectedField"] = "x"
	out = append(out, variantCase{prefix + "extra field", extra})
	return out
}

func setPayload(e map[string]any, key string, v any) {
	e["payload"].(map[string]any)[key] = v
}

func sameJSONType(a, b any) bool {
	return fmt.Sprintf("%T", a) == fmt.Sprintf("%T", b)
}

func clone(v any) any {
	var out any
	if err := json.Unmarshal([]byte(mustJSON(v)), &out); err != nil {
		panic(err)
	}
	return out
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
