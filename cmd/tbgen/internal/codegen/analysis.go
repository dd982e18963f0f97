package codegen

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"reflect"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	oapi "github.com/oapi-codegen/oapi-codegen/v2/pkg/codegen"

	"github.com/taskbridge-go/taskbridge/cmd/tbgen/internal/spec"
)

// analysis reads the frame and event structure of a contract out of its
// schemas, and the Go shape of its models out of the generated source.
type analysis struct {
	doc      *openapi3.T
	file     string
	structs  map[string][]structField
	problems spec.Problems
	unions   []string // discriminated union schemas used as frames, in first-seen order
}

func (a *analysis) fail(schema, format string, args ...any) {
	a.problems = append(a.problems, spec.Problem{
		File: a.file, Pointer: "/components/schemas/" + schema, Reason: fmt.Sprintf(format, args...),
	})
}

// structField is one field of a generated struct.
type structField struct {
	Name, Type, JSON string
}

// parseStructs maps each struct type of src to its fields.
func parseStructs(src string) (map[string][]structField, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "models.gen.go", src, 0)
	if err != nil {
		return nil, err
	}
	out := map[string][]structField{}
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok {
			return true
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return false
		}
		var fields []structField
		for _, fl := range st.Fields.List {
			var typ strings.Builder
			_ = printer.Fprint(&typ, fset, fl.Type)
			tag := ""
			if fl.Tag != nil {
				tag = reflect.StructTag(strings.Trim(fl.Tag.Value, "`")).Get("json")
			}
			jsonName, _, _ := strings.Cut(tag, ",")
			for _, name := range fl.Names {
				fields = append(fields, structField{Name: name.Name, Type: typ.String(), JSON: jsonName})
			}
		}
		out[ts.Name.Name] = fields
		return false
	})
	return out, nil
}

// schema returns a component schema by name.
func (a *analysis) schema(name string) *openapi3.Schema {
	if a.doc.Components == nil || a.doc.Components.Schemas[name] == nil {
		return nil
	}
	return a.doc.Components.Schemas[name].Value
}

// variant is one member of a discriminated union schema.
type variant struct {
	Value, Schema string
}

// variants lists the members of a union schema with their discriminator values,
// in oneOf order; ok is false when the schema is not a discriminated union.
func (a *analysis) variants(name string) (prop string, vs []variant, ok bool) {
	s := a.schema(name)
	if s == nil || s.Discriminator == nil || len(s.OneOf) == 0 {
		return "", nil, false
	}
	for _, ref := range s.OneOf {
		member := schemaName(ref.Ref)
		value := ""
		for _, k := range sortedKeys(s.Discriminator.Mapping) {
			if schemaName(s.Discriminator.Mapping[k].Ref) == member {
				value = k
			}
		}
		if member == "" || value == "" {
			a.fail(name, "every oneOf member must be a $ref named in discriminator.mapping")
			return "", nil, false
		}
		vs = append(vs, variant{Value: value, Schema: member})
	}
	return s.Discriminator.PropertyName, vs, true
}

// tag finds the property that tells a plain frame schema apart: the one
// required property whose schema is a single-value string enum.
func (a *analysis) tag(name string) (prop, value string, ok bool) {
	s := a.schema(name)
	if s == nil {
		a.fail(name, "schema does not exist")
		return "", "", false
	}
	var found []string
	for _, p := range s.Required {
		ps := s.Properties[p]
		if ps != nil && ps.Value != nil && len(ps.Value.Enum) == 1 {
			if v, isString := ps.Value.Enum[0].(string); isString {
				found = append(found, p)
				value = v
			}
		}
	}
	if len(found) != 1 {
		a.fail(name, "a frame needs exactly one required property with a single-value string enum (such as type: [HEARTBEAT]) to tell it apart; found %d", len(found))
		return "", "", false
	}
	return found[0], value, true
}

func schemaName(ref string) string {
	name, _ := strings.CutPrefix(ref, "#/components/schemas/")
	if name == ref {
		return ""
	}
	return name
}

func strict(s *openapi3.Schema) bool {
	return s.AdditionalProperties.Has != nil && !*s.AdditionalProperties.Has
}

func goType(schema string) string { return oapi.SchemaNameToTypeName(schema) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
