package services

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/gen"
)

// createRequest is a create, JSON or multipart, before it becomes a task.
type createRequest struct {
	ClientRequestID string
	TaskType        string
	// Input and Metadata are the client's JSON objects, nil when absent.
	Input, Metadata map[string]any
	Attachments     []taskbridge.Attachment
}

// CreateRequest is a create as a BeforeCreateFunc sees it: its task type
// is known and its input matched the task type's schema and checks.
type CreateRequest struct {
	ClientRequestID string
	TaskType        string
	// Input is the input as JSON, null when the client gave none; decode it
	// with DecodeInput. It is not to be changed: it counts for idempotency.
	Input json.RawMessage
	// Metadata is the client's metadata, nil when it gave none. The hook may
	// change it; what it leaves is kept with the task. It does not count for
	// idempotency.
	Metadata map[string]any
	// Attachments are the uploaded files, in upload order; not to be changed.
	Attachments []taskbridge.Attachment
}

// DecodeInput decodes the input into v, such as the generated input type
// of the task type.
func (r *CreateRequest) DecodeInput(v any) error { return json.Unmarshal(r.Input, v) }

// BeforeCreateFunc is a host's preprocessing of creates: it sees every
// create, with its caller, after its input was checked and before
// idempotency and submission (so every repeat of a create too). It may
// change req.Metadata, or refuse the create with an error: Reject makes one
// with a code of the contract, and a domain sentinel such as
// taskbridge.ErrForbidden is answered as it is everywhere.
type BeforeCreateFunc func(ctx context.Context, caller taskbridge.Principal, req *CreateRequest) error

// CreateTask creates a task from a JSON or multipart body, idempotently per
// (owner, clientRequestId), and hands it to the executor.
func (a *API) CreateTask(ctx context.Context, req gen.CreateTaskRequestObject) (gen.CreateTaskResponseObject, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.limits.create(p.Subject); err != nil {
		return nil, err
	}
	if !a.enterCreate() {
		return nil, newError(http.StatusServiceUnavailable, gen.ErrorCodeNotReady, "the host is shutting down; retry the create elsewhere")
	}
	defer a.creates.Done()
	var cr createRequest
	switch {
	case req.JSONBody != nil:
		b := req.JSONBody
		cr = createRequest{ClientRequestID: b.ClientRequestId, TaskType: b.TaskType, Input: objectOrNil(b.Input), Metadata: objectOrNil(b.Metadata)}
	case req.MultipartBody != nil:
		cr, err = readMultipart(req.MultipartBody, a.cfg.Uploads.Limits(ctx, p), a.multipartFields)
	default:
		err = newError(http.StatusBadRequest, gen.ErrorCodeInvalidRequest,
			"the body must be application/json or multipart/form-data", "field", "Content-Type")
	}
	if err != nil {
		return nil, err
	}
	task, created, err := a.create(ctx, p, cr)
	if err != nil {
		return nil, err
	}
	a.cfg.Metrics.TaskCreated(task.Type, !created)
	if !created {
		return gen.CreateTask200JSONResponse(createResponse(task, true)), nil
	}
	if err := a.cfg.Executor.Submit(ctx, task); err != nil {
		return nil, a.submissionFailed(ctx, task, err)
	}
	return gen.CreateTask201JSONResponse(createResponse(task, false)), nil
}

func objectOrNil(o *gen.JSONObject) map[string]any {
	if o == nil {
		return nil
	}
	return *o
}

// create checks the request against the policy and the contract, lets the
// host's hook see it, then records it.
func (a *API) create(ctx context.Context, p taskbridge.Principal, cr createRequest) (taskbridge.Task, bool, error) {
	if err := a.cfg.Ownership.CanCreate(ctx, p, cr.TaskType); err != nil {
		return taskbridge.Task{}, false, err
	}
	input, err := a.checkInput(cr.TaskType, cr.Input)
	if err != nil {
		return taskbridge.Task{}, false, err
	}
	if a.cfg.BeforeCreate != nil {
		req := &CreateRequest{ClientRequestID: cr.ClientRequestID, TaskType: cr.TaskType, Input: input, Metadata: cr.Metadata, Attachments: cr.Attachments}
		if err := a.cfg.BeforeCreate(ctx, p, req); err != nil {
			return taskbridge.Task{}, false, err
		}
		cr.Metadata = req.Metadata
	}
	metadata, err := jsonOrNull(cr.Metadata)
	if err != nil {
		return taskbridge.Task{}, false, unprocessable("/metadata", "cannot be encoded as JSON")
	}
	return a.cfg.Store.CreateTask(ctx, taskbridge.NewTask{
		ID:              rand.Text(),
		Owner:           p.Subject,
		ClientRequestID: cr.ClientRequestID,
		Type:            cr.TaskType,
		Input:           input,
		Metadata:        metadata,
		Attachments:     cr.Attachments,
		Fingerprint:     fingerprint(cr.TaskType, input, cr.Attachments),
		CreatedAt:       a.now(),
		TraceParent:     TraceParent(ctx),
	})
}

// checkInput judges an input by its task type's schema (an absent input is
// checked as {}) and checks, and returns it as canonical JSON (null when
// absent), so that a JSON and a multipart create of one input compare
// equal.
func (a *API) checkInput(taskType string, input map[string]any) (json.RawMessage, error) {
	t := a.cfg.Contract.TaskType(taskType)
	if t == nil {
		return nil, &taskbridge.UnknownTaskTypeError{TaskType: taskType, Known: a.cfg.Contract.Names()}
	}
	var v any = input
	if input == nil {
		v = map[string]any{}
	}
	if err := t.Input.Check("/input", v); err != nil {
		return nil, err
	}
	raw, err := jsonOrNull(input)
	if err != nil {
		return nil, unprocessable("/input", "cannot be encoded as JSON")
	}
	if check := a.cfg.InputChecks[taskType]; check != nil {
		if err := check(raw); err != nil {
			var invalid *taskbridge.InvalidInputError
			if errors.As(err, &invalid) {
				invalid.Field = "/input" + invalid.Field
			}
			return nil, err
		}
	}
	return raw, nil
}

// submissionFailed ends a created task the executor would not take, so that
// it does not wait forever, and answers 503.
func (a *API) submissionFailed(ctx context.Context, t taskbridge.Task, cause error) error {
	a.log.LogAttrs(ctx, slog.LevelError, "submitting a task failed", slog.String("taskId", t.ID), slog.Any("err", cause))
	fail := taskbridge.Failure{Code: "SUBMISSION_FAILED", Message: "the executor did not take the task", Retryable: true}
	if err := a.cfg.Reporter.Fail(context.WithoutCancel(ctx), t.ID, fail); err != nil && !errors.Is(err, taskbridge.ErrTaskEnded) {
		a.log.LogAttrs(ctx, slog.LevelError, "failing an unsubmitted task failed", slog.String("taskId", t.ID), slog.Any("err", err))
	}
	return fmt.Errorf("%w: %w", taskbridge.ErrSubmission, cause)
}

// fingerprint summarises what create idempotency compares: the task type,
// the input (canonical JSON) and each attachment's name, type and bytes.
func fingerprint(taskType string, input json.RawMessage, attachments []taskbridge.Attachment) string {
	fields := [][]byte{[]byte(taskType), input}
	for _, f := range attachments {
		sum := sha256.Sum256(f.Data)
		fields = append(fields, []byte(f.Name), []byte(f.ContentType), sum[:])
	}
	return digest(fields...)
}

// digest hashes the fields, each prefixed with its length so that no two
// different lists of fields hash alike.
func digest(fields ...[]byte) string {
	h := sha256.New()
	for _, f := range fields {
		_ = binary.Write(h, binary.BigEndian, uint64(len(f))) // a hash never fails to write
		h.Write(f)
	}
	return hex.EncodeToString(h.Sum(nil))
}
