package bridge

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/taskbridge-go/taskbridge/services"
	"github.com/taskbridge-go/taskbridge/taskspec"
)

// contract is the merged contract: its task types, compiled, and the
// document, served with the paths as mounted.
type contract struct {
	spec *taskspec.Spec
	doc  map[string]any

	mu      sync.Mutex
	byRoute map[string][]byte // the served document, by route path
}

func parseContract(data []byte) (*contract, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("bridge: Config.TaskTypes has no Contract; use the TaskTypes function tbgen generates")
	}
	spec, err := taskspec.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("bridge: the contract: %w", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("bridge: the contract is not a JSON document: %w", err)
	}
	return &contract{spec: spec, doc: doc, byRoute: map[string][]byte{}}, nil
}

// served is the document as the route at routePath serves it: its paths
// moved to where the routes are mounted (below the prefix of the group
// the route is on), and routes left out dropped.
func (c *contract) served(routes services.Routes, routePath, openAPIPath string) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.byRoute[routePath]; ok {
		return b
	}
	prefix := strings.TrimSuffix(routePath, routes.Base+openAPIPath)
	doc := make(map[string]any, len(c.doc))
	for k, v := range c.doc {
		doc[k] = v
	}
	paths, _ := c.doc["paths"].(map[string]any)
	moved := make(map[string]any, len(paths))
	for p, item := range paths {
		if mounted := routes.Path(p); mounted != services.Off {
			moved[prefix+mounted] = item
		}
	}
	doc["paths"] = moved
	doc["servers"] = []any{map[string]any{"url": "/", "description": "this host"}}
	b, err := json.Marshal(doc)
	if err != nil {
		b = []byte(`{}`) // cannot happen: the document came from JSON
	}
	c.byRoute[routePath] = b
	return b
}
