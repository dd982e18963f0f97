package taskspec_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/taskspec"
)

const publishSpec = `
openapi: 3.0.3
info: {title: jobs, version: 1.0.0}
paths: {}
x-taskbridge-task-types:
  publish:
    description: Publishes a post.
    input: {$ref: '#/components/schemas/PublishInput'}
    result: {$ref: '#/components/schemas/PublishResult'}
    suspensions:
      review:
        actions:
          reject: {payload: {$ref: '#/components/schemas/Rejection'}}
          approve: {payload: {$ref: '#/components/schemas/Approval'}}
      wait:
        kind: SYSTEM_PAUSED
        actions:
          go: {payload: {$ref: '#/components/schemas/Approval'}}
  archive:
    input: {$ref: '#/components/schemas/Approval'}
    result: {$ref: '#/components/schemas/Anything'}
components:
  schemas:
    PublishInput:
      type: object
      additionalProperties: false
      required: [title]
      properties:
        title: {type: string, minLength: 1, maxLength: 80}
        tags: {type: array, items: {type: string, pattern: '^[a-z]+$'}}
        "a/b~c": {type: integer}
    PublishResult:
      type: object
      required: [words]
      properties:
        words: {type: integer, minimum: 1}
    Approval:
      type: object
      additionalProperties: false
      properties:
        note: {type: string}
    Rejection:
      type: object
      required: [reason]
      properties:
        reason: {type: string, minLength: 1}
    Anything: {nullable: true}
`

func parse(t *testing.T, doc string) *taskspec.Spec {
	t.Helper()
	s, err := taskspec.Parse([]byte(doc))
	require.NoError(t, err)
	return s
}

func TestParseReadsTheDeclarations(t *testing.T) {
	t.Parallel()
	s := parse(t, publishSpec)
	require.Equal(t, []string{"archive", "publish"}, s.Names())
	require.Nil(t, s.TaskType("nope"))

	p := s.TaskType("publish")
	require.Equal(t, "Publishes a post.", p.Description)
	require.Equal(t, "PublishInput", p.Input.Name)
	require.Equal(t, "PublishResult", p.Result.Name)
	require.Len(t, p.Suspensions, 2)

	review := p.Suspension("review")
	require.Equal(t, "USER_ACTION_REQUIRED", review.Kind, "the default kind")
	require.Equal(t, []string{"approve", "reject"}, review.ActionNames())
	require.Equal(t, "Rejection", review.Action("reject").Payload.Name)
	require.Nil(t, review.Action("go"))
	require.Equal(t, "SYSTEM_PAUSED", p.Suspension("wait").Kind)
	require.Nil(t, p.Suspension("nope"))
	require.Empty(t, s.TaskType("archive").Suspensions)
}

func TestCheckPointsAtTheOffendingValue(t *testing.T) {
	t.Parallel()
	in := parse(t, publishSpec).TaskType("publish").Input
	cases := []struct {
		name, value, field string
	}{
		{"missing property", `{}`, "/input/title"},
		{"unknown property", `{"title": "x", "body": "y"}`, "/input/body"},
		{"too short", `{"title": ""}`, "/input/title"},
		{"wrong type", `{"title": 7}`, "/input/title"},
		{"array item", `{"title": "x", "tags": ["ok", "NO"]}`, "/input/tags/1"},
		{"escaped key", `{"title": "x", "a/b~c": "seven"}`, "/input/a~1b~0c"},
		{"not an object", `[1]`, "/input"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := in.CheckJSON("/input", json.RawMessage(c.value))
			var invalid *taskbridge.InvalidInputError
			require.ErrorAs(t, err, &invalid)
			require.Equal(t, c.field, invalid.Field)
			require.NotEmpty(t, invalid.Reason)
		})
	}
	require.NoError(t, in.CheckJSON("/input", json.RawMessage(`{"title": "x", "tags": ["a"], "a/b~c": 3}`)))
	require.Error(t, in.CheckJSON("/input", json.RawMessage(`{"title":`)), "not JSON")
}

func TestAnySchemaAcceptsEveryValue(t *testing.T) {
	t.Parallel()
	result := parse(t, publishSpec).TaskType("archive").Result
	for _, v := range []string{`null`, `1`, `"s"`, `[]`, `{"a": {}}`} {
		require.NoError(t, result.CheckJSON("/result", json.RawMessage(v)), v)
	}
}

func TestParseReportsEveryProblemWithItsPointer(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, decls, pointer, reason string
	}{
		{"no declarations", ``, "", "declares no task types"},
		{"empty declarations", `x-taskbridge-task-types: {}`, "/x-taskbridge-task-types", "declares no task type"},
		{"unknown field", `x-taskbridge-task-types: {a: {inputs: {}}}`, "/x-taskbridge-task-types", "unknown field"},
		{"missing input", `x-taskbridge-task-types: {a: {result: {$ref: '#/components/schemas/Obj'}}}`,
			"/x-taskbridge-task-types/a/input", "is required"},
		{"inline schema", `x-taskbridge-task-types: {a: {input: {type: object}, result: {$ref: '#/components/schemas/Obj'}}}`,
			"/x-taskbridge-task-types/a/input", "must be a $ref"},
		{"dangling ref", `x-taskbridge-task-types: {a: {input: {$ref: '#/components/schemas/Nope'}, result: {$ref: '#/components/schemas/Obj'}}}`,
			"/x-taskbridge-task-types/a/input", "does not exist"},
		{"input not an object", `x-taskbridge-task-types: {a: {input: {$ref: '#/components/schemas/Str'}, result: {$ref: '#/components/schemas/Obj'}}}`,
			"/x-taskbridge-task-types/a/input", "type object"},
		{"bad name", `x-taskbridge-task-types: {"1a": {input: {$ref: '#/components/schemas/Obj'}, result: {$ref: '#/components/schemas/Obj'}}}`,
			"/x-taskbridge-task-types/1a", "starting with a letter"},
		{"no actions", `x-taskbridge-task-types: {a: {input: {$ref: '#/components/schemas/Obj'}, result: {$ref: '#/components/schemas/Obj'}, suspensions: {s: {}}}}`,
			"/x-taskbridge-task-types/a/suspensions/s/actions", "at least one action"},
		{"bad kind", `x-taskbridge-task-types: {a: {input: {$ref: '#/components/schemas/Obj'}, result: {$ref: '#/components/schemas/Obj'}, suspensions: {s: {kind: NAP, actions: {go: {payload: {$ref: '#/components/schemas/Obj'}}}}}}}`,
			"/x-taskbridge-task-types/a/suspensions/s/kind", "not a SuspensionKind"},
		{"payload not an object", `x-taskbridge-task-types: {a: {input: {$ref: '#/components/schemas/Obj'}, result: {$ref: '#/components/schemas/Obj'}, suspensions: {s: {actions: {go: {payload: {$ref: '#/components/schemas/Str'}}}}}}}`,
			"/x-taskbridge-task-types/a/suspensions/s/actions/go/payload", "type object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\n" + c.decls +
				"\ncomponents: {schemas: {Obj: {type: object}, Str: {type: string}}}\n"
			_, err := taskspec.Parse([]byte(doc))
			var problems taskspec.Problems
			require.ErrorAs(t, err, &problems)
			found := false
			for _, p := range problems {
				found = found || (p.Pointer == c.pointer && strings.Contains(p.Reason, c.reason))
			}
			require.True(t, found, "want %s: ...%s... in %v", c.pointer, c.reason, problems)
		})
	}
}
