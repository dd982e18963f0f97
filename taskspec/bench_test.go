package taskspec_test

import (
	"encoding/json"
	"testing"

	"github.com/taskbridge-go/taskbridge/taskspec"
)

// BenchmarkCheck measures a create's input check: a value as the request
// decoder hands it over, against its compiled schema.
func BenchmarkCheck(b *testing.B) {
	spec, err := taskspec.Parse([]byte(publishSpec))
	if err != nil {
		b.Fatal(err)
	}
	in := spec.TaskType("publish").Input
	var v any
	if err := json.Unmarshal([]byte(`{"title":"A post","tags":["news","go"]}`), &v); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := in.Check("/input", v); err != nil {
			b.Fatal(err)
		}
	}
}
