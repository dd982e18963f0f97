package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// document is one spec file read as a plain YAML tree.
type document struct {
	path string // as given
	data []byte
	root map[string]any
}

// readDocument reads a YAML (or JSON) file whose top level must be a mapping.
func readDocument(path string) (*document, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseDocument(path, data)
}

// parseDocument parses the contents of a spec file.
func parseDocument(path string, data []byte) (*document, error) {
	var root any
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the file is empty")
		}
		return nil, fmt.Errorf("not valid YAML: %v", err)
	}
	m, ok := root.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("not a YAML mapping at the top level (found %s)", kindOf(root))
	}
	return &document{path: path, data: data, root: m}, nil
}

// lookup follows a JSON pointer ("/a/b") from the root; ok is false when a token is missing.
func (d *document) lookup(ptr string) (any, bool) {
	var node any = d.root
	if ptr == "" {
		return node, true
	}
	if !strings.HasPrefix(ptr, "/") {
		return nil, false
	}
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = unescapeToken(tok)
		switch n := node.(type) {
		case map[string]any:
			v, ok := n[tok]
			if !ok {
				return nil, false
			}
			node = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(n) {
				return nil, false
			}
			node = n[i]
		default:
			return nil, false
		}
	}
	return node, true
}

// refVisitor is called for every "$ref" string with the pointer of the object holding it.
type refVisitor func(holder, ref string)

// walkRefs visits every $ref of the tree in a stable order.
func walkRefs(node any, ptr string, visit refVisitor) {
	switch n := node.(type) {
	case map[string]any:
		if ref, ok := n["$ref"].(string); ok {
			visit(ptr, ref)
		}
		for _, k := range sortedKeys(n) {
			walkRefs(n[k], pointer(ptr, k), visit)
		}
	case []any:
		for i, v := range n {
			walkRefs(v, pointer(ptr, strconv.Itoa(i)), visit)
		}
	}
}

// splitRef splits "file.yaml#/a/b" into its file part (relative to the referring
// document, "" for the same document) and its pointer.
func splitRef(from, ref string) (file, ptr string) {
	file, ptr, _ = strings.Cut(ref, "#")
	if file != "" && !filepath.IsAbs(file) {
		file = filepath.Join(filepath.Dir(from), file)
	}
	return file, ptr
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "nothing"
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return "a string"
	default:
		return fmt.Sprintf("a %T", v)
	}
}

// GoName turns "TASK_NOT_FOUND", "not_ready", "no-cache" or "taskEventStream"
// into TaskNotFound, NotReady, NoCache and TaskEventStream: words of one case
// are title-cased, mixed-case words keep their inner capitals.
func GoName(s string) string {
	var b strings.Builder
	for _, word := range strings.FieldsFunc(s, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
	}) {
		rest := word[1:]
		if rest == strings.ToUpper(rest) {
			rest = strings.ToLower(rest)
		}
		b.WriteString(strings.ToUpper(word[:1]) + rest)
	}
	return b.String()
}
