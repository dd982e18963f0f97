package spec

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/taskbridge-go/taskbridge/gen"
	"github.com/taskbridge-go/taskbridge/taskspec"
)

// FuzzLoadTaskTypes loads any file as a host's task-type spec: it never
// panics, a spec it refuses gets Problems, and one it accepts merges into a
// contract that the bridge reads.
func FuzzLoadTaskTypes(f *testing.F) {
	for _, s := range []string{
		"openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\nx-taskbridge-task-types:\n  p:\n    input: {type: object, required: [t], properties: {t: {type: string, maxLength: 9}}}\n" +
			"    result: {type: object}\n    suspensions: {r: {kind: SYSTEM_PAUSED, actions: {ok: {payload: {type: object}}}}}\n",
		"openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\nx-taskbridge-task-types: {a: {input: {type: object}, result: {}}}\n",
		"openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\nx-taskbridge-task-types: {a: {input: {$ref: '#/components/schemas/X'}, result: {$ref: '#/x'}}}\n",
		"x-taskbridge-task-types: []\n", "[]", "", "{", "openapi: [3",
	} {
		f.Add([]byte(s))
	}
	doc, err := gen.GetSwagger()
	if err != nil {
		f.Fatal(err)
	}
	base, err := json.Marshal(doc)
	if err != nil {
		f.Fatal(err)
	}
	path := filepath.Join(f.TempDir(), "tasktypes.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		tt, err := LoadTaskTypes(context.Background(), path, base)
		if err != nil {
			var ps Problems
			if !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("%q: an error that is not Problems: %v", data, err)
			}
			return
		}
		if _, err := taskspec.Parse(tt.Merged); err != nil {
			t.Fatalf("%q: accepted, but its merged contract does not parse: %v", data, err)
		}
	})
}
