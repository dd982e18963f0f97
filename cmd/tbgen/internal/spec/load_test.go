package spec

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"gopkg.in/yaml.v3"
)

const (
	repoOpenAPI  = "../../../../api/openapi.yaml"
	repoAsyncAPI = "../../../../api/asyncapi.yaml"
)

func TestLoadRepositorySpecs(t *testing.T) {
	c, err := Load(context.Background(), Files{OpenAPI: repoOpenAPI, AsyncAPI: repoAsyncAPI})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Streams) != 2 || len(c.AsyncAPI.Channels) != 2 {
		t.Fatalf("streams %d, channels %d; want 2 and 2", len(c.Streams), len(c.AsyncAPI.Channels))
	}
}

// TestMisshapenAsyncAPINeverPanics replaces each node of the AsyncAPI file in
// turn with a value of another shape (a mapping or list by a string, a scalar
// by a list) and requires Load to answer with problems, never a panic.
func TestMisshapenAsyncAPINeverPanics(t *testing.T) {
	d, err := readDocument(repoAsyncAPI)
	if err != nil {
		t.Fatal(err)
	}
	openapi, err := filepath.Abs(repoOpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	asyncapi := filepath.Join(dir, "asyncapi.yaml")
	var paths [][]string
	collectPaths(d.root, nil, &paths)
	if len(paths) < 100 {
		t.Fatalf("only %d nodes to vary", len(paths))
	}
	for _, path := range paths {
		root := cloneTree(d.root)
		replace(root, path)
		// Keep the reference into the OpenAPI file resolvable from the copy.
		data, err := yaml.Marshal(rewriteRefs(root, "openapi.yaml", openapi))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(asyncapi, data, 0o644); err != nil {
			t.Fatal(err)
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%v: Load panicked: %v", path, r)
				}
			}()
			_, _ = Load(context.Background(), Files{OpenAPI: openapi, AsyncAPI: asyncapi})
		}()
	}
}

func collectPaths(node any, path []string, out *[][]string) {
	if len(path) > 0 {
		*out = append(*out, append([]string(nil), path...))
	}
	switch n := node.(type) {
	case map[string]any:
		for _, k := range sortedKeys(n) {
			collectPaths(n[k], append(path, k), out)
		}
	case []any:
		for i, v := range n {
			collectPaths(v, append(path, strconv.Itoa(i)), out)
		}
	}
}

// replace swaps the node at path for one of another shape.
func replace(root any, path []string) {
	parent := root
	for _, tok := range path[:len(path)-1] {
		parent = child(parent, tok)
	}
	last := path[len(path)-1]
	old := child(parent, last)
	var v any = "misshapen"
	if _, isScalar := old.(string); isScalar || old == nil {
		v = []any{1, 2}
	}
	switch p := parent.(type) {
	case map[string]any:
		p[last] = v
	case []any:
		i, _ := strconv.Atoi(last)
		p[i] = v
	}
}

func child(node any, tok string) any {
	switch n := node.(type) {
	case map[string]any:
		return n[tok]
	case []any:
		i, _ := strconv.Atoi(tok)
		return n[i]
	}
	panic(fmt.Sprintf("no child %q", tok))
}

func cloneTree(node any) any {
	switch n := node.(type) {
	case map[string]any:
		out := make(map[string]any, len(n))
		for k, v := range n {
			out[k] = cloneTree(v)
		}
		return out
	case []any:
		out := make([]any, len(n))
		for i, v := range n {
			out[i] = cloneTree(v)
		}
		return out
	}
	return node
}

// rewriteRefs points refs into file at the absolute path instead.
func rewriteRefs(node any, file, abs string) any {
	switch n := node.(type) {
	case map[string]any:
		for k, v := range n {
			if s, ok := v.(string); ok && k == "$ref" && len(s) > len(file) && s[:len(file)+1] == file+"#" {
				n[k] = abs + s[len(file):]
			} else {
				rewriteRefs(v, file, abs)
			}
		}
	case []any:
		for _, v := range n {
			rewriteRefs(v, file, abs)
		}
	}
	return node
}
