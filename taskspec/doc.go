// Package taskspec reads a host's task-type declarations and checks values
// against them: the input a client gives at create, the payload of an action
// that answers a suspension, and the result a handler returns.
//
// # The declarations
//
// A host declares its task types in an OpenAPI 3.0 document, under the
// root extension x-taskbridge-task-types; their schemas are ordinary schema
// objects of components/schemas, so that every OpenAPI tool reads them:
//
//	x-taskbridge-task-types:
//	  publish:
//	    description: Publishes a post once an editor approved it.
//	    input:  {$ref: '#/components/schemas/PublishInput'}
//	    result: {$ref: '#/components/schemas/PublishResult'}
//	    suspensions:
//	      review:                       # the reasonCode of its TASK_SUSPENDED
//	        kind: USER_ACTION_REQUIRED  # the default
//	        actions:                    # the allowedActions
//	          approve: {payload: {$ref: '#/components/schemas/Approval'}}
//	          reject:  {payload: {$ref: '#/components/schemas/Rejection'}}
//
// Names of task types, suspensions and actions are 1 to 128 letters, digits,
// '_', '.' or '-', starting with a letter. Input and payload schemas describe
// JSON objects, as the wire carries them; a result may be any JSON value.
// Parse reads a document whose declarations all reference component
// schemas, as the merged contract that cmd/tbgen writes does; tbgen also
// accepts inline schemas in a host's own file and names them.
//
// # Checks
//
// A Schema checks a value as encoding/json decodes it into an any and
// answers a *taskbridge.InvalidInputError whose Field is a JSON pointer
// (RFC 6901) to the offending value, below the pointer it was given: for a
// create, "/input/text". A suspension is found by the reasonCode its
// TASK_SUSPENDED event carries, so a task's open suspension tells which
// payload schemas its actions must match.
package taskspec
