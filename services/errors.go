package services

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/gen"
)

// Error is a request failure with everything the error envelope needs. The
// services return it (or a domain sentinel that envelope maps to it) and the
// Echo error handler writes it.
type Error struct {
	// Status is the HTTP status.
	Status int
	// Code is the envelope's code.
	Code gen.ErrorCode
	// Message is for humans; it never carries a Go error string of an
	// internal failure.
	Message string
	// Details names what was wrong, such as {"field": "afterEventId"}.
	Details map[string]any
	// RetryAfter, when above 0, is sent as Retry-After (whole seconds,
	// rounded up).
	RetryAfter time.Duration
	// BearerError, with a 401, is the RFC 6750 error code of the Bearer
	// challenge sent as WWW-Authenticate: "invalid_token" when the
	// request's token was refused, "" (no error code) when it carried none.
	BearerError string
	// Err is the cause, for logs only.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %s: %v", e.Status, e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// unavailableRetryAfter is the Retry-After of a 503: long enough for a
// database to come back or a load balancer to move on, short enough that a
// client does not wait for nothing.
const unavailableRetryAfter = 2 * time.Second

// newError makes an *Error; details are key, value pairs.
func newError(status int, code gen.ErrorCode, message string, details ...any) *Error {
	e := &Error{Status: status, Code: code, Message: message, Details: map[string]any{}}
	for i := 0; i+1 < len(details); i += 2 {
		e.Details[fmt.Sprint(details[i])] = details[i+1]
	}
	return e
}

// invalid is a 400 INVALID_REQUEST about one field.
func invalid(field, message string) *Error {
	return newError(http.StatusBadRequest, gen.ErrorCodeInvalidRequest, message, "field", field)
}

// unprocessable is a 422 REQUEST_VALIDATION_ERROR about one field.
func unprocessable(field, reason string) *Error {
	return newError(http.StatusUnprocessableEntity, gen.ErrorCodeRequestValidationError,
		"the request does not match the API: "+field+": "+reason, "field", field, "reason", reason)
}

// envelope maps any error to the *Error it is answered with: this is the one
// place where domain sentinels meet status codes.
func envelope(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var input *taskbridge.InvalidInputError
	if errors.As(err, &input) {
		e := unprocessable(input.Field, input.Reason)
		e.Err = err
		return e
	}
	e = mapSentinel(err)
	for _, add := range detailers {
		add(err, e.Details)
	}
	e.Err = err
	return e
}

// detailers copy into an envelope's details what the typed errors of the
// root package carry, for a client to act on; each leaves details alone
// when err is not its kind.
var detailers = []func(err error, details map[string]any){
	conflictDetails, notAllowedDetails, unknownTypeDetails, notOpenDetails,
}

// conflictDetails names the task an idempotency key belongs to, and the key.
func conflictDetails(err error, details map[string]any) {
	var conflict *taskbridge.IdempotencyConflictError
	if !errors.As(err, &conflict) {
		return
	}
	details["taskId"] = conflict.TaskID
	if conflict.ClientActionID != "" {
		details["clientActionId"] = conflict.ClientActionID
	} else {
		details["clientRequestId"] = conflict.ClientRequestID
	}
}

// notAllowedDetails lists the action types the suspension allows.
func notAllowedDetails(err error, details map[string]any) {
	var notAllowed *taskbridge.ActionNotAllowedError
	if errors.As(err, &notAllowed) {
		details["suspendId"], details["actionType"] = notAllowed.SuspendID, notAllowed.ActionType
		details["allowedActions"] = notAllowed.AllowedActions
	}
}

// unknownTypeDetails lists the task types there are.
func unknownTypeDetails(err error, details map[string]any) {
	var unknown *taskbridge.UnknownTaskTypeError
	if errors.As(err, &unknown) {
		details["knownTaskTypes"] = unknown.Known
	}
}

// notOpenDetails names the suspension asked for and the one open now (null
// when none).
func notOpenDetails(err error, details map[string]any) {
	var notOpen *taskbridge.SuspensionNotOpenError
	if !errors.As(err, &notOpen) {
		return
	}
	details["suspendId"], details["openSuspendId"] = notOpen.SuspendID, nil
	if notOpen.OpenSuspendID != "" {
		details["openSuspendId"] = notOpen.OpenSuspendID
	}
}

func mapSentinel(err error) *Error {
	switch {
	case errors.Is(err, taskbridge.ErrTaskNotFound):
		return newError(http.StatusNotFound, gen.ErrorCodeTaskNotFound, "task not found")
	case errors.Is(err, taskbridge.ErrSuspensionNotFound):
		return newError(http.StatusConflict, gen.ErrorCodeSuspensionNotOpen,
			"the task does not wait on this suspension", "field", "suspendId")
	case errors.Is(err, taskbridge.ErrIdempotencyConflict):
		return newError(http.StatusConflict, gen.ErrorCodeIdempotencyConflict,
			"this idempotency key was already used for a different request")
	case errors.Is(err, taskbridge.ErrActionNotAllowed):
		return newError(http.StatusConflict, gen.ErrorCodeActionNotAllowed,
			"the suspension does not allow this action type")
	case errors.Is(err, taskbridge.ErrUnauthenticated):
		return unauthenticated(err, false)
	case errors.Is(err, taskbridge.ErrForbidden):
		return newError(http.StatusForbidden, gen.ErrorCodeTaskOwnershipError, "not allowed to create this task")
	case errors.Is(err, taskbridge.ErrUnknownTaskType):
		return newError(http.StatusBadRequest, gen.ErrorCodeInvalidRequest, "unknown task type", "field", "taskType")
	case errors.Is(err, taskbridge.ErrUploadTooLarge):
		return newError(http.StatusRequestEntityTooLarge, gen.ErrorCodeUploadValidationError, err.Error())
	case errors.Is(err, taskbridge.ErrUploadRejected):
		return newError(http.StatusBadRequest, gen.ErrorCodeUploadValidationError, err.Error())
	case errors.Is(err, taskbridge.ErrUnavailable):
		return newError(http.StatusServiceUnavailable, gen.ErrorCodeServiceUnavailable,
			"a service the host depends on cannot be reached; nothing was changed, retry later")
	case errors.Is(err, taskbridge.ErrTooManyRequests):
		e := newError(http.StatusTooManyRequests, gen.ErrorCodeTooManyRequests, "over a limit of this caller; retry later")
		e.RetryAfter = time.Second
		return e
	case errors.Is(err, taskbridge.ErrSubmission), errors.Is(err, taskbridge.ErrClosed):
		return newError(http.StatusServiceUnavailable, gen.ErrorCodeTaskSubmissionError,
			"the task could not be handed to an executor; retry later")
	case errors.Is(err, taskbridge.ErrMalformedCursor):
		return newError(http.StatusBadRequest, gen.ErrorCodeInvalidRequest, err.Error())
	}
	return newError(http.StatusInternalServerError, gen.ErrorCodeInternalError, "internal error")
}

// unauthenticated is the 401 of a request that the AuthResolver refused
// with err: details.reason is what the resolver said past
// ErrUnauthenticated, and tokenRefused names a refused token in the
// challenge. An err that is not ErrUnauthenticated is the resolver's own
// failure: no reason comes from it, and no token was judged.
func unauthenticated(err error, tokenRefused bool) *Error {
	e := newError(http.StatusUnauthorized, gen.ErrorCodeAuthenticationError, "authentication required")
	if !errors.Is(err, taskbridge.ErrUnauthenticated) {
		return e
	}
	if reason := authReason(err); reason != "" {
		e.Details["reason"] = reason
	}
	if tokenRefused {
		e.BearerError = "invalid_token"
	}
	return e
}

// authReason is the text an error adds past ErrUnauthenticated's own, as
// "the token expired" of fmt.Errorf("%w: the token expired",
// taskbridge.ErrUnauthenticated); "" when it adds none.
func authReason(err error) string {
	_, reason, found := strings.Cut(err.Error(), taskbridge.ErrUnauthenticated.Error())
	if !found {
		return ""
	}
	return strings.TrimSpace(strings.TrimLeft(reason, ": "))
}

// challenge is the WWW-Authenticate value of a 401: a Bearer challenge in
// realm, with the error code of e.
func challenge(realm string, e *Error) string {
	c := `Bearer realm="` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(realm) + `"`
	if e.BearerError != "" {
		c += `, error="` + e.BearerError + `"`
	}
	return c
}

// statusOf is the HTTP status that answers an error code of the contract.
var statusOf = map[gen.ErrorCode]int{
	gen.ErrorCodeInvalidRequest:         http.StatusBadRequest,
	gen.ErrorCodeUploadValidationError:  http.StatusBadRequest,
	gen.ErrorCodeAuthenticationError:    http.StatusUnauthorized,
	gen.ErrorCodeTaskOwnershipError:     http.StatusForbidden,
	gen.ErrorCodeTaskNotFound:           http.StatusNotFound,
	gen.ErrorCodeRouteNotFound:          http.StatusNotFound,
	gen.ErrorCodeMethodNotAllowed:       http.StatusMethodNotAllowed,
	gen.ErrorCodeIdempotencyConflict:    http.StatusConflict,
	gen.ErrorCodeActionNotAllowed:       http.StatusConflict,
	gen.ErrorCodeSuspensionNotOpen:      http.StatusConflict,
	gen.ErrorCodeRequestValidationError: http.StatusUnprocessableEntity,
	gen.ErrorCodeTaskSubmissionError:    http.StatusServiceUnavailable,
	gen.ErrorCodeNotReady:               http.StatusServiceUnavailable,
	gen.ErrorCodeServiceUnavailable:     http.StatusServiceUnavailable,
	gen.ErrorCodeTooManyRequests:        http.StatusTooManyRequests,
	gen.ErrorCodeInternalError:          http.StatusInternalServerError,
}

// Reject is the error with which a host's hook refuses a request: it is
// answered as the envelope with code, message and details (nil is {}), and
// the status the contract gives the code. A code the contract does not
// have is answered as 500 INTERNAL_ERROR.
func Reject(code gen.ErrorCode, message string, details map[string]any) error {
	status, ok := statusOf[code]
	if !ok {
		return &Error{Status: http.StatusInternalServerError, Code: gen.ErrorCodeInternalError, Message: "internal error",
			Details: map[string]any{}, Err: fmt.Errorf("services: Reject with %q, which is not an error code of the contract", code)}
	}
	if details == nil {
		details = map[string]any{}
	}
	return &Error{Status: status, Code: code, Message: message, Details: details}
}
