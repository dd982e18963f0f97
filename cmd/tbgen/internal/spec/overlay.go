package spec

import (
	"bytes"
	"fmt"

	"github.com/speakeasy-api/openapi/overlay/loader"
	"gopkg.in/yaml.v3"
)

// applyOverlay applies an OpenAPI Overlay (1.0) to the OpenAPI file's contents,
// so that a host can extend the contract (add task types, schemas, paths)
// without copying it. Every action must select something.
func applyOverlay(specData []byte, overlayPath string) ([]byte, error) {
	o, err := loader.LoadOverlay(overlayPath)
	if err != nil {
		return nil, err
	}
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("not a valid overlay: %v", err)
	}
	var node yaml.Node
	if err := yaml.Unmarshal(specData, &node); err != nil {
		return nil, fmt.Errorf("not valid YAML: %v", err)
	}
	if warnings, err := o.ApplyToStrict(&node); err != nil {
		return nil, fmt.Errorf("%v %v", err, warnings)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&node); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
