package spec

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// checkLocalRefs reports every $ref of d that does not resolve. Only references
// inside d itself are allowed: the OpenAPI file is the root of the contract.
func checkLocalRefs(d *document, ps *problems) {
	walkRefs(d.root, "", func(holder, ref string) {
		file, ptr := splitRef(d.path, ref)
		switch {
		case file != "":
			ps.add(pointer(holder, "$ref"), "reference %q leaves the file; the OpenAPI file must be self-contained", ref)
		case ptr == "" || ptr[0] != '/':
			ps.add(pointer(holder, "$ref"), "reference %q is not a JSON pointer into this file", ref)
		default:
			if _, ok := d.lookup(ptr); !ok {
				ps.add(pointer(holder, "$ref"), "reference %q points at nothing", ref)
			}
		}
	})
}

// loadOpenAPI parses the document with kin-openapi; it assumes checkLocalRefs passed.
func loadOpenAPI(d *document) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	abs, err := filepath.Abs(d.path)
	if err != nil {
		return nil, err
	}
	return loader.LoadFromDataWithPath(d.data, &url.URL{Path: filepath.ToSlash(abs)})
}

// validateOpenAPI validates the document piece by piece, so that each problem
// is reported with the pointer of the component or operation it is in.
func validateOpenAPI(ctx context.Context, doc *openapi3.T, ps *problems) {
	if doc.OpenAPI == "" || doc.OpenAPI[0] != '3' || doc.IsOpenAPI31OrLater() {
		ps.add("/openapi", "version %q is not supported; tbgen reads OpenAPI 3.0", doc.OpenAPI)
		return
	}
	check := func(ptr string, err error) {
		if err != nil {
			ps.add(ptr, "%v", err)
		}
	}
	if doc.Info == nil {
		ps.add("/info", "info is required")
	} else {
		check("/info", doc.Info.Validate(ctx))
	}
	if doc.Components != nil {
		validateSchemas(ctx, doc.Components.Schemas, ps)
		if len(ps.list) > 0 {
			// Parameters, responses and operations would repeat the schema
			// problems they reference; they are checked once schemas are clean.
			return
		}
		for _, name := range sortedKeys(doc.Components.Parameters) {
			check(pointer("/components/parameters", name), doc.Components.Parameters[name].Validate(ctx))
		}
		for _, name := range sortedKeys(doc.Components.Responses) {
			check(pointer("/components/responses", name), doc.Components.Responses[name].Validate(ctx))
		}
		for _, name := range sortedKeys(doc.Components.RequestBodies) {
			check(pointer("/components/requestBodies", name), doc.Components.RequestBodies[name].Validate(ctx))
		}
		for _, name := range sortedKeys(doc.Components.SecuritySchemes) {
			check(pointer("/components/securitySchemes", name), doc.Components.SecuritySchemes[name].Validate(ctx))
		}
	}
	forEachOperation(doc, func(ptr, _, _ string, op *openapi3.Operation) {
		if op.OperationID == "" {
			ps.add(ptr, "operationId is required: it names the generated handler")
		}
		check(ptr, op.Validate(ctx))
	})
	if len(ps.list) == 0 {
		// Whatever the piecewise checks cannot see (duplicate operationIds, path
		// parameters that do not match the template, ...).
		check("", doc.Validate(ctx))
	}
}

// validateSchemas validates every component schema and reports the problems
// at their source: a schema whose failure comes only from a schema it
// references is not reported again.
func validateSchemas(ctx context.Context, schemas openapi3.Schemas, ps *problems) {
	failed := map[string]error{}
	for name, ref := range schemas {
		if err := ref.Validate(ctx); err != nil {
			failed[name] = err
		}
	}
	for _, name := range sortedKeys(failed) {
		inherited := false
		for dep := range referencedSchemas(schemas[name].Value, map[*openapi3.Schema]bool{}) {
			inherited = inherited || (dep != name && failed[dep] != nil)
		}
		if !inherited {
			ps.add(pointer("/components/schemas", name), "%v", failed[name])
		}
	}
}

// referencedSchemas returns the names of the component schemas s references,
// directly or through other references.
func referencedSchemas(s *openapi3.Schema, seen map[*openapi3.Schema]bool) map[string]bool {
	out := map[string]bool{}
	if s == nil || seen[s] {
		return out
	}
	seen[s] = true
	var visit func(r *openapi3.SchemaRef)
	visit = func(r *openapi3.SchemaRef) {
		if r == nil {
			return
		}
		if name := componentSchemaName(r.Ref); name != "" {
			out[name] = true
		}
		for dep := range referencedSchemas(r.Value, seen) {
			out[dep] = true
		}
	}
	for _, r := range s.Properties {
		visit(r)
	}
	visit(s.Items)
	visit(s.AdditionalProperties.Schema)
	visit(s.Not)
	for _, list := range []openapi3.SchemaRefs{s.AllOf, s.OneOf, s.AnyOf} {
		for _, r := range list {
			visit(r)
		}
	}
	return out
}

// forEachOperation visits every operation in path and method order.
func forEachOperation(doc *openapi3.T, visit func(ptr, path, method string, op *openapi3.Operation)) {
	if doc.Paths == nil {
		return
	}
	for _, path := range sortedKeys(doc.Paths.Map()) {
		item := doc.Paths.Value(path)
		ops := item.Operations()
		for _, method := range sortedKeys(ops) {
			visit(pointer("/paths", path, strings.ToLower(method)), path, method, ops[method])
		}
	}
}

// componentSchemaName returns X for "#/components/schemas/X", or "".
func componentSchemaName(ref string) string {
	const prefix = "#/components/schemas/"
	if name, ok := strings.CutPrefix(ref, prefix); ok && name != "" {
		return unescapeToken(name)
	}
	return ""
}
