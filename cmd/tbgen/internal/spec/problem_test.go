package spec

import "testing"

func TestPointerEscapesTokens(t *testing.T) {
	got := pointer("/paths", "/api/v1/tasks/{taskId}", "get", "x~y")
	want := "/paths/~1api~1v1~1tasks~1{taskId}/get/x~0y"
	if got != want {
		t.Fatalf("pointer = %q, want %q", got, want)
	}
	if back := unescapeToken("~1api~1v1~0x"); back != "/api/v1~x" {
		t.Fatalf("unescapeToken = %q", back)
	}
}

func TestComponentSchemaName(t *testing.T) {
	for ref, want := range map[string]string{
		"#/components/schemas/TaskEvent":   "TaskEvent",
		"#/components/schemas/":            "",
		"#/components/responses/X":         "",
		"other.yaml#/components/schemas/X": "",
	} {
		if got := componentSchemaName(ref); got != want {
			t.Errorf("componentSchemaName(%q) = %q, want %q", ref, got, want)
		}
	}
}
