package taskspec

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/taskbridge-go/taskbridge"
)

// Check validates v, a value as encoding/json decodes it into an any, and
// returns nil or a *taskbridge.InvalidInputError whose Field is the JSON
// pointer of the offending value below at (for example "/input").
func (s *Schema) Check(at string, v any) error {
	err := s.schema.VisitJSON(v, openapi3.EnableFormatValidation())
	if err == nil {
		return nil
	}
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		return &taskbridge.InvalidInputError{Field: at + FieldOf(se), Reason: se.Reason}
	}
	return &taskbridge.InvalidInputError{Field: at, Reason: "does not match the schema " + s.Name}
}

// CheckJSON decodes data and checks it as Check does; data that is not JSON
// is an *taskbridge.InvalidInputError too.
func (s *Schema) CheckJSON(at string, data json.RawMessage) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return &taskbridge.InvalidInputError{Field: at, Reason: "is not JSON"}
	}
	return s.Check(at, v)
}

var propertyName = regexp.MustCompile(`property "([^"]+)"`)

// FieldOf is the JSON pointer of the value a schema error is about, relative
// to the value that was checked ("" for that value itself); a missing or
// unknown property is pointed at by its own name.
func FieldOf(se *openapi3.SchemaError) string {
	path := se.JSONPointer()
	if m := propertyName.FindStringSubmatch(se.Reason); m != nil && (len(path) == 0 || path[len(path)-1] != m[1]) {
		path = append(path, m[1])
	}
	if len(path) == 0 {
		return ""
	}
	return pointer(path...)
}

// pointer joins tokens into a JSON pointer, escaping each (RFC 6901).
func pointer(tokens ...string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(escaper.Replace(t))
	}
	return b.String()
}

var escaper = strings.NewReplacer("~", "~0", "/", "~1")
