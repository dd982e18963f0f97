package spec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/taskbridge-go/taskbridge/taskspec"
)

// TaskTypes is a host's task-type spec: loaded, checked, its inline
// schemas named, and merged with the base contract.
type TaskTypes struct {
	// File is the spec file as given.
	File string
	// Spec is its task types, compiled.
	Spec *taskspec.Spec
	// Host is the host's document with every declaration's schema in
	// components/schemas, for the Go models.
	Host *openapi3.T
	// Merged is the merged contract as indented JSON: the base API with the
	// host's schemas and task types, and the create request discriminated
	// by taskType.
	Merged []byte
}

// Names of the schemas the merged contract adds for the task types.
const (
	// TaskTypesSchema maps each taskType to its input, result and the
	// payloads of its suspensions' actions, for generators.
	TaskTypesSchema = "TaskTypes"
	// createSchema is the base contract's JSON create request.
	createSchema = "CreateTaskRequest"
	// multipartSchema is the base contract's multipart create request.
	multipartSchema = "CreateTaskMultipartRequest"
)

// CreateSchema is the name of the create request of one task type in the
// merged contract.
func CreateSchema(taskType string) string { return "Create" + GoName(taskType) + "TaskRequest" }

// LoadTaskTypes reads a host's task-type spec (YAML or JSON, an OpenAPI 3.0
// document with no paths that declares its task types under
// x-taskbridge-task-types) and merges it with base, the base contract as
// JSON. Its error is Problems.
func LoadTaskTypes(ctx context.Context, path string, base []byte) (*TaskTypes, error) {
	ps := &problems{file: path}
	d, err := readDocument(path)
	if err != nil {
		ps.add("", "%v", err)
		return nil, ps.list
	}
	checkLocalRefs(d, ps)
	if len(ps.list) > 0 {
		return nil, ps.list
	}
	if hoist(d.root, ps); len(ps.list) > 0 {
		return nil, ps.list
	}
	hostJSON, err := json.Marshal(d.root)
	if err != nil {
		ps.add("", "%v", err)
		return nil, ps.list
	}
	host, err := loadOpenAPI(&document{path: d.path, data: hostJSON, root: d.root})
	if err != nil {
		ps.add("", "%v", err)
		return nil, ps.list
	}
	validateOpenAPI(ctx, host, ps)
	if host.Paths != nil && host.Paths.Len() > 0 {
		ps.add("/paths", "a task-type spec has no paths of its own: its API is the base contract's")
	}
	if len(ps.list) > 0 {
		return nil, ps.list // the declarations' own check would repeat them
	}
	spec, err := taskspec.Parse(hostJSON)
	addSpecProblems(ps, err)
	if len(ps.list) > 0 {
		return nil, ps.list
	}
	t := &TaskTypes{File: path, Spec: spec, Host: host}
	t.Merged = merge(ps, base, d.root, spec)
	if len(ps.list) > 0 {
		return nil, ps.list
	}
	checkMerged(ctx, ps, t.Merged)
	if len(ps.list) > 0 {
		return nil, ps.list
	}
	return t, nil
}

// addSpecProblems adds what taskspec found, at its pointers.
func addSpecProblems(ps *problems, err error) {
	var tp taskspec.Problems
	switch {
	case err == nil:
	case errors.As(err, &tp):
		for _, p := range tp {
			ps.add(p.Pointer, "%s", p.Reason)
		}
	default:
		ps.add("", "%v", err)
	}
}

// hoist moves every inline schema of the declarations into
// components/schemas, named after its place (PublishInput, PublishResult,
// PublishReviewApprovePayload), and checks that every name makes a Go
// identifier of its own.
func hoist(root map[string]any, ps *problems) {
	decls, ok := root[taskspec.Extension].(map[string]any)
	if !ok {
		return // taskspec reports it
	}
	schemas := componentSchemas(root)
	place := func(at string, owner map[string]any, key, name string) {
		node, ok := owner[key].(map[string]any)
		if !ok {
			return
		}
		if _, isRef := node["$ref"]; isRef {
			return
		}
		if _, taken := schemas[name]; taken {
			ps.add(pointer(at, key), "this inline schema would be named %s, which components/schemas already has; reference a component instead", name)
			return
		}
		schemas[name] = node
		owner[key] = map[string]any{"$ref": "#/components/schemas/" + name}
	}
	goNames := map[string]string{}
	for _, name := range sortedKeys(decls) {
		at := pointer("/"+taskspec.Extension, name)
		uniqueGoName(ps, at, goNames, name)
		decl, ok := decls[name].(map[string]any)
		if !ok {
			continue
		}
		place(at, decl, "input", GoName(name)+"Input")
		place(at, decl, "result", GoName(name)+"Result")
		suspensions, _ := decl["suspensions"].(map[string]any)
		suspensionNames := map[string]string{}
		for _, sname := range sortedKeys(suspensions) {
			sat := pointer(at, "suspensions", sname)
			uniqueGoName(ps, sat, suspensionNames, sname)
			s, _ := suspensions[sname].(map[string]any)
			actions, _ := s["actions"].(map[string]any)
			actionNames := map[string]string{}
			for _, aname := range sortedKeys(actions) {
				aat := pointer(sat, "actions", aname)
				uniqueGoName(ps, aat, actionNames, aname)
				if a, ok := actions[aname].(map[string]any); ok {
					place(aat, a, "payload", GoName(name)+GoName(sname)+GoName(aname)+"Payload")
				}
			}
		}
	}
}

// uniqueGoName checks that name makes a Go identifier no sibling makes.
func uniqueGoName(ps *problems, at string, seen map[string]string, name string) {
	g := GoName(name)
	if other, dup := seen[g]; dup {
		ps.add(at, "%q and %q make the same Go name %s", other, name, g)
	}
	seen[g] = name
}

// componentSchemas returns the document's components/schemas, made when
// missing.
func componentSchemas(root map[string]any) map[string]any {
	components, ok := root["components"].(map[string]any)
	if !ok {
		components = map[string]any{}
		root["components"] = components
	}
	schemas, ok := components["schemas"].(map[string]any)
	if !ok {
		schemas = map[string]any{}
		components["schemas"] = schemas
	}
	return schemas
}

// merge writes the merged contract: the base contract with the host's
// info, schemas and declarations, a create request per task type, the
// create request discriminated by taskType, and the TaskTypes map.
func merge(ps *problems, base []byte, host map[string]any, spec *taskspec.Spec) []byte {
	var doc map[string]any
	if err := json.Unmarshal(base, &doc); err != nil {
		ps.add("", "the base contract is not JSON: %v", err)
		return nil
	}
	doc["info"] = host["info"]
	doc[taskspec.Extension] = host[taskspec.Extension]
	schemas := componentSchemas(doc)
	hostSchemas := componentSchemas(host)
	for _, name := range sortedKeys(hostSchemas) {
		if _, taken := schemas[name]; taken {
			ps.add(pointer("/components/schemas", name), "the base contract has a schema %s; name yours otherwise", name)
		}
		schemas[name] = hostSchemas[name]
	}
	for _, kind := range sortedKeys(host["components"].(map[string]any)) {
		if kind != "schemas" {
			ps.add(pointer("/components", kind), "a task-type spec has only schemas among its components")
		}
	}
	add := func(name string, schema map[string]any) {
		if _, taken := schemas[name]; taken {
			ps.add(pointer("/components/schemas", name), "the merged contract makes a schema %s; name yours otherwise", name)
		}
		schemas[name] = schema
	}
	create, _ := schemas[createSchema].(map[string]any)
	properties, _ := create["properties"].(map[string]any)
	var variants []any
	mapping := map[string]any{}
	for _, t := range spec.TaskTypes() {
		ref := "#/components/schemas/" + CreateSchema(t.Name)
		variants = append(variants, map[string]any{"$ref": ref})
		mapping[t.Name] = ref
		add(CreateSchema(t.Name), createRequest(t, properties))
	}
	schemas[createSchema] = map[string]any{
		"description": "A create request; its input is typed by its taskType.",
		"oneOf":       variants,
		"discriminator": map[string]any{
			"propertyName": "taskType",
			"mapping":      mapping,
		},
	}
	if multipart, ok := schemas[multipartSchema].(map[string]any); ok {
		if props, ok := multipart["properties"].(map[string]any); ok {
			props["taskType"] = map[string]any{"type": "string", "enum": anySlice(spec.Names())}
		}
	}
	add(TaskTypesSchema, taskTypesMap(spec))
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		ps.add("", "the merged contract does not encode: %v", err)
		return nil
	}
	return append(out, '\n')
}

// createRequest is the create request of one task type: the base
// request's fields with the taskType fixed and the input typed. The input
// is required when an absent one (checked as {}) would be refused.
func createRequest(t *taskspec.TaskType, base map[string]any) map[string]any {
	required := []any{"clientRequestId", "taskType"}
	if t.Input.Check("", map[string]any{}) != nil {
		required = append(required, "input")
	}
	description := fmt.Sprintf("Creates a %s task.", t.Name)
	if t.Description != "" {
		description += " " + t.Description
	}
	return map[string]any{
		"type":                 "object",
		"additionalProperties": false,
		"description":          description,
		"required":             required,
		"properties": map[string]any{
			"clientRequestId": base["clientRequestId"],
			"taskType":        map[string]any{"type": "string", "enum": []any{t.Name}},
			"input":           ref(t.Input),
			"metadata":        base["metadata"],
		},
	}
}

// taskTypesMap is a schema no message carries: an object whose properties
// are the task types, each with its input, result and suspensions (each
// an object of its actions' payloads), so that a generator gives clients
// a type per taskType.
func taskTypesMap(spec *taskspec.Spec) map[string]any {
	types := map[string]any{}
	for _, t := range spec.TaskTypes() {
		suspensions := map[string]any{}
		for _, s := range t.Suspensions {
			actions := map[string]any{}
			for _, a := range s.Actions {
				actions[a.Name] = ref(a.Payload)
			}
			suspensions[s.Name] = object(actions)
		}
		types[t.Name] = object(map[string]any{
			"input":       ref(t.Input),
			"result":      ref(t.Result),
			"suspensions": object(suspensions),
		})
	}
	m := object(types)
	m["description"] = "The task types of this contract: each taskType's input, result, and the payload of each action " +
		"that answers each of its suspensions (by reasonCode and actionType). No message carries this schema; " +
		"it gives generated clients a type per taskType."
	return m
}

// object is a closed object schema whose properties are all required.
func object(properties map[string]any) map[string]any {
	o := map[string]any{"type": "object", "additionalProperties": false, "properties": properties}
	if len(properties) > 0 {
		o["required"] = anySlice(sortedKeys(properties))
	}
	return o
}

func ref(s *taskspec.Schema) map[string]any {
	return map[string]any{"$ref": "#/components/schemas/" + s.Name}
}

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// checkMerged validates the merged contract as the bridge will read it.
func checkMerged(ctx context.Context, ps *problems, merged []byte) {
	mps := &problems{file: ps.file + " (merged contract)"}
	doc, err := loadOpenAPI(&document{path: "openapi.json", data: merged})
	if err != nil {
		mps.add("", "%v", err)
	} else {
		validateOpenAPI(ctx, doc, mps)
	}
	if _, err := taskspec.Parse(merged); err != nil {
		addSpecProblems(mps, err)
	}
	ps.list = append(ps.list, mps.list...)
}
