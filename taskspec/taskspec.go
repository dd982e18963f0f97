package taskspec

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/taskbridge-go/taskbridge/gen"
)

// Extension is the root extension of an OpenAPI document that declares the
// task types.
const Extension = "x-taskbridge-task-types"

// Spec is a host's task types, parsed and compiled. It is immutable and safe
// for concurrent use.
type Spec struct {
	types []*TaskType // by name
}

// TaskType is one declared task type.
type TaskType struct {
	// Name is the taskType clients give at create.
	Name        string
	Description string
	// Input is the schema of the create's input; Result of the result the
	// task completes with.
	Input, Result *Schema
	// Suspensions are the suspensions the task may raise, by name.
	Suspensions []*Suspension
}

// Suspension is a suspension a task type may raise.
type Suspension struct {
	// Name is the reasonCode of its TASK_SUSPENDED event.
	Name        string
	Description string
	// Kind is its SuspensionKind; USER_ACTION_REQUIRED unless declared.
	Kind string
	// Actions are the actions that may answer it, by name: its allowedActions.
	Actions []*Action
}

// Action is an action that may answer a suspension.
type Action struct {
	// Name is its actionType.
	Name        string
	Description string
	// Payload is the schema of the action's payload.
	Payload *Schema
}

// Schema is a compiled component schema.
type Schema struct {
	// Name is its name in components/schemas.
	Name   string
	schema *openapi3.Schema
}

// Problem is one thing wrong with a document, at a JSON pointer into it.
type Problem struct {
	Pointer, Reason string
}

// Problems is every problem Parse found; it is its error.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = "#" + p.Pointer + ": " + p.Reason
	}
	return "task-type spec: " + strings.Join(lines, "; ")
}

// namePattern is what a name of a task type, suspension or action may be:
// one a client can send and a generator can make an identifier of.
var namePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,127}$`)

// The declarations as they are written.
type (
	declTaskType struct {
		Description string                    `json:"description"`
		Input       json.RawMessage           `json:"input"`
		Result      json.RawMessage           `json:"result"`
		Suspensions map[string]declSuspension `json:"suspensions"`
	}
	declSuspension struct {
		Description string                `json:"description"`
		Kind        string                `json:"kind"`
		Actions     map[string]declAction `json:"actions"`
	}
	declAction struct {
		Description string          `json:"description"`
		Payload     json.RawMessage `json:"payload"`
	}
)

// Parse reads an OpenAPI 3.0 document (JSON or YAML) that declares task types under
// Extension and compiles the schemas its declarations reference. Its error
// is Problems.
func Parse(data []byte) (*Spec, error) {
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		return nil, Problems{{Pointer: "", Reason: err.Error()}}
	}
	raw, ok := doc.Extensions[Extension]
	if !ok {
		return nil, Problems{{Pointer: "", Reason: "the document declares no task types (" + Extension + ")"}}
	}
	decls, err := decodeDecls(raw)
	if err != nil {
		return nil, Problems{{Pointer: pointer(Extension), Reason: err.Error()}}
	}
	p := &parser{doc: doc}
	spec := &Spec{}
	for _, name := range slices.Sorted(maps.Keys(decls)) {
		if t := p.taskType(name, decls[name]); t != nil {
			spec.types = append(spec.types, t)
		}
	}
	if len(decls) == 0 {
		p.add(pointer(Extension), "declares no task type")
	}
	if len(p.problems) > 0 {
		return nil, p.problems
	}
	return spec, nil
}

func decodeDecls(raw any) (map[string]declTaskType, error) {
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var decls map[string]declTaskType
	if err := dec.Decode(&decls); err != nil {
		return nil, fmt.Errorf("must map task type names to {description, input, result, suspensions}: %v", err)
	}
	return decls, nil
}

type parser struct {
	doc      *openapi3.T
	problems Problems
}

func (p *parser) add(ptr, format string, args ...any) {
	p.problems = append(p.problems, Problem{Pointer: ptr, Reason: fmt.Sprintf(format, args...)})
}

func (p *parser) name(ptr, what, name string) {
	if !namePattern.MatchString(name) {
		p.add(ptr, "the %s name %q must be 1 to 128 letters, digits, '_', '.' or '-', starting with a letter", what, name)
	}
}

func (p *parser) taskType(name string, d declTaskType) *TaskType {
	at := pointer(Extension, name)
	p.name(at, "task type", name)
	t := &TaskType{
		Name:        name,
		Description: d.Description,
		Input:       p.schema(pointer(Extension, name, "input"), d.Input, true),
		Result:      p.schema(pointer(Extension, name, "result"), d.Result, false),
	}
	for _, sname := range slices.Sorted(maps.Keys(d.Suspensions)) {
		t.Suspensions = append(t.Suspensions, p.suspension(pointer(Extension, name, "suspensions", sname), sname, d.Suspensions[sname]))
	}
	return t
}

func (p *parser) suspension(at, name string, d declSuspension) *Suspension {
	p.name(at, "suspension", name)
	s := &Suspension{Name: name, Description: d.Description, Kind: d.Kind}
	if s.Kind == "" {
		s.Kind = string(gen.SuspensionKindUserActionRequired)
	}
	switch gen.SuspensionKind(s.Kind) {
	case gen.SuspensionKindUserActionRequired, gen.SuspensionKindExternalConfirmationPending, gen.SuspensionKindSystemPaused:
	default:
		p.add(at+pointer("kind"), "kind %q is not a SuspensionKind (USER_ACTION_REQUIRED, EXTERNAL_CONFIRMATION_PENDING, SYSTEM_PAUSED)", s.Kind)
	}
	if len(d.Actions) == 0 {
		p.add(at+pointer("actions"), "a suspension needs at least one action that answers it")
	}
	for _, aname := range slices.Sorted(maps.Keys(d.Actions)) {
		aat := at + pointer("actions", aname)
		p.name(aat, "action", aname)
		a := d.Actions[aname]
		s.Actions = append(s.Actions, &Action{Name: aname, Description: a.Description, Payload: p.schema(aat+pointer("payload"), a.Payload, true)})
	}
	return s
}

// schema compiles a declaration's schema, which must reference a component
// schema; object says that it must describe JSON objects.
func (p *parser) schema(at string, d json.RawMessage, object bool) *Schema {
	if len(d) == 0 || string(d) == "null" {
		p.add(at, "is required")
		return nil
	}
	var ref struct {
		Ref string `json:"$ref"`
	}
	dec := json.NewDecoder(bytes.NewReader(d))
	dec.DisallowUnknownFields()
	err := dec.Decode(&ref)
	name, ok := strings.CutPrefix(ref.Ref, "#/components/schemas/")
	if err != nil || !ok || name == "" {
		p.add(at, "must be a $ref to a schema of components/schemas")
		return nil
	}
	var component *openapi3.SchemaRef
	if p.doc.Components != nil {
		component = p.doc.Components.Schemas[name]
	}
	if component == nil || component.Value == nil {
		p.add(at, "references %s, which does not exist", ref.Ref)
		return nil
	}
	if err := component.Value.Validate(context.Background()); err != nil {
		p.add(pointer("components", "schemas", name), "%v", err)
		return nil
	}
	if object && !component.Value.Type.Is(openapi3.TypeObject) {
		p.add(at, "%s must be a schema of type object: the wire carries a JSON object here", ref.Ref)
	}
	return &Schema{Name: name, schema: component.Value}
}

// TaskTypes returns the task types, by name.
func (s *Spec) TaskTypes() []*TaskType { return s.types }

// TaskType returns the task type of that name, or nil.
func (s *Spec) TaskType(name string) *TaskType {
	i, ok := slices.BinarySearchFunc(s.types, name, func(t *TaskType, name string) int { return strings.Compare(t.Name, name) })
	if !ok {
		return nil
	}
	return s.types[i]
}

// Names returns the names of the task types, sorted.
func (s *Spec) Names() []string {
	names := make([]string, len(s.types))
	for i, t := range s.types {
		names[i] = t.Name
	}
	return names
}

// Suspension returns the suspension of that name (reasonCode), or nil.
func (t *TaskType) Suspension(name string) *Suspension {
	for _, s := range t.Suspensions {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Action returns the action of that name (actionType), or nil.
func (s *Suspension) Action(name string) *Action {
	for _, a := range s.Actions {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// ActionNames returns the names of the actions, sorted: the allowedActions
// of the suspension's TASK_SUSPENDED event.
func (s *Suspension) ActionNames() []string {
	names := make([]string, len(s.Actions))
	for i, a := range s.Actions {
		names[i] = a.Name
	}
	return names
}
