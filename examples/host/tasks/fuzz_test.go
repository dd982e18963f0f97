package tasks

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/taskbridge-go/taskbridge/examples/host/tasktypes"
)

// FuzzScriptedInput creates scripted tasks with any input through the
// bridge: nothing panics or answers 5xx, a refusal is a 400 or a 422, and
// every script it accepts decodes into the typed Script, has steps of one
// kind each, and no step after a terminal one.
func FuzzScriptedInput(f *testing.F) {
	for _, s := range []string{
		`{"steps":[]}`,
		`{"steps":[{"sleepMs":1.5},{"progress":{"progress":50,"stage":"s"}},{"message":{"message":"m","level":"info"}}]}`,
		`{"steps":[{"ticks":{"count":3,"intervalMs":0.5,"payloadBytes":12}},{"complete":{"result":{"a":[1,"b"]}}}]}`,
		`{"steps":[{"suspend":{"kind":"SYSTEM_PAUSED","reasonCode":"r","allowedActions":["a"],"expiresInMs":10}}]}`,
		`{"steps":[{"fail":{"code":"C","message":"m","retryable":true}}]}`,
		`{"steps":[{"complete":{}},{"sleepMs":1}]}`,
		`{"steps":[{"dance":1}]}`, `{"steps":[{}]}`, `{"steps":[{"sleepMs":1,"message":{"message":"m"}}]}`,
		`{"steps":[{"progress":{"progress":150}}]}`, `{"steps":{}}`, `{}`, `[]`, `null`, ``, `{"steps":`,
	} {
		f.Add(s)
	}
	c := newCreator(f)
	f.Fuzz(func(t *testing.T, input string) {
		status, field := c.create(t, input)
		switch status {
		case http.StatusBadRequest, http.StatusUnprocessableEntity:
			return
		case http.StatusCreated:
		default:
			t.Fatalf("%q: %d %s", input, status, field)
		}
		var script tasktypes.Script
		if input != "" {
			if err := json.Unmarshal([]byte(input), &script); err != nil {
				t.Fatalf("%q was accepted but does not decode: %v", input, err)
			}
		}
		for i, s := range script.Steps {
			kinds := 0
			for _, set := range []bool{s.SleepMs != nil, s.Progress != nil, s.Message != nil, s.Ticks != nil, s.Suspend != nil, s.Complete != nil, s.Fail != nil} {
				if set {
					kinds++
				}
			}
			if kinds != 1 {
				t.Fatalf("%q: step %d was accepted with %d kinds", input, i, kinds)
			}
			if i > 0 && terminal(script.Steps[i-1]) {
				t.Fatalf("%q: step %d follows a terminal step", input, i)
			}
		}
	})
}
