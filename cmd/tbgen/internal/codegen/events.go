package codegen

import (
	"go/token"
	"slices"
	"strings"
	"unicode"

	"github.com/taskbridge-go/taskbridge/cmd/tbgen/internal/spec"
)

type eventsData struct {
	fileData
	Unions []eventUnion
}

// eventUnion is a discriminated union frame whose variants each carry a typed
// "payload": the task events.
type eventUnion struct {
	Name, Prop, TypeName, PayloadName string
	Fields                            []eventField // envelope fields besides the discriminator and payload
	Variants                          []eventVariant
}

type eventField struct {
	Name, Var, Type string
}

type eventVariant struct {
	Const, Value, GoType, Payload string
	Terminal                      bool
}

// HasTerminal reports whether any variant ends its task.
func (u eventUnion) HasTerminal() bool { return len(u.Terminals()) > 0 }

// Terminals lists the variants that end their task.
func (u eventUnion) Terminals() []eventVariant {
	var out []eventVariant
	for _, v := range u.Variants {
		if v.Terminal {
			out = append(out, v)
		}
	}
	return out
}

func (d eventsData) imports() []string {
	imports := []string{"encoding/json", "fmt"}
	for _, u := range d.Unions {
		for _, f := range u.Fields {
			if strings.Contains(f.Type, "time.") {
				return append(imports, "time")
			}
		}
	}
	return imports
}

// events builds the typed-payload helpers of every union frame whose variants
// carry a payload property that references a schema of its own.
func (a *analysis) events() eventsData {
	var d eventsData
	for _, name := range a.unions {
		prop, vs, _ := a.variants(name)
		u := eventUnion{
			Name: goType(name), Prop: prop,
			TypeName: goType(name) + "Type", PayloadName: goType(name) + "Payload",
		}
		withPayload := 0
		for _, v := range vs {
			if p := a.schema(v.Schema).Properties["payload"]; p != nil && schemaName(p.Ref) != "" {
				withPayload++
			}
		}
		switch withPayload {
		case 0: // a union, but not of events: no payload helpers
		case len(vs):
			if a.eventUnion(&u, name, vs) {
				d.Unions = append(d.Unions, u)
			}
		default:
			a.fail(name, "either every variant or none must have a payload property that references a schema")
		}
	}
	return d
}

func (a *analysis) eventUnion(u *eventUnion, name string, vs []variant) bool {
	for _, taken := range []string{u.TypeName, u.PayloadName} {
		if _, clash := a.structs[taken]; clash || a.schema(taken) != nil {
			a.fail(name, "tbgen generates %s for this union, and a schema of that name exists", taken)
			return false
		}
	}
	payloads := map[string]bool{}
	for i, v := range vs {
		s := a.schema(v.Schema)
		payload := schemaName(s.Properties["payload"].Ref)
		if payloads[payload] {
			a.fail(v.Schema, "payload schema %s is used by two variants of %s; each needs its own", payload, name)
			return false
		}
		payloads[payload] = true
		terminal, _ := s.Extensions["x-taskbridge-terminal"].(bool)
		u.Variants = append(u.Variants, eventVariant{
			Const: u.TypeName + spec.GoName(v.Value), Value: v.Value,
			GoType: goType(v.Schema), Payload: goType(payload), Terminal: terminal,
		})
		fields := a.envelopeFields(v.Schema, u.Prop)
		if i == 0 {
			u.Fields = fields
		} else if !slices.Equal(u.Fields, fields) {
			a.fail(v.Schema, "its envelope fields differ from those of %s; every variant of %s needs the same ones", vs[0].Schema, name)
			return false
		}
	}
	return true
}

// envelopeFields are a variant's generated fields other than its discriminator
// and payload, in the order of the schema's required list, then by name.
func (a *analysis) envelopeFields(schema, prop string) []eventField {
	required := a.schema(schema).Required
	rank := func(json string) int {
		if i := slices.Index(required, json); i >= 0 {
			return i
		}
		return len(required)
	}
	fields := slices.Clone(a.structs[goType(schema)])
	slices.SortStableFunc(fields, func(x, y structField) int { return rank(x.JSON) - rank(y.JSON) })
	var out []eventField
	for _, f := range fields {
		if f.JSON == prop || f.JSON == "payload" {
			continue
		}
		out = append(out, eventField{Name: f.Name, Var: paramName(f), Type: f.Type})
	}
	return out
}

func paramName(f structField) string {
	if token.IsIdentifier(f.JSON) && !token.IsKeyword(f.JSON) && f.JSON != "payload" {
		return f.JSON
	}
	r := []rune(f.Name)
	r[0] = unicode.ToLower(r[0])
	return string(r)
}
