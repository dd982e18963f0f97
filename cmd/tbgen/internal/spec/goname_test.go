package spec

import "testing"

func TestGoName(t *testing.T) {
	for in, want := range map[string]string{
		"TASK_NOT_FOUND":         "TaskNotFound",
		"not_ready":              "NotReady",
		"ok":                     "Ok",
		"no-cache, no-transform": "NoCacheNoTransform",
		"taskEventStream":        "TaskEventStream",
		"SUBSCRIPTION_CONFIRMED": "SubscriptionConfirmed",
		"v2":                     "V2",
		"":                       "",
	} {
		if got := GoName(in); got != want {
			t.Errorf("GoName(%q) = %q, want %q", in, got, want)
		}
	}
}
