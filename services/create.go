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
	"strings"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/gen"
)

// createRequest is a create, JSON or multipart, before it becomes a task.
type createRequest struct {
	ClientRequestID string
	TaskType        string
	Input           json.RawMessage // canonical JSON object, or null
	Metadata        json.RawMessage
	Attachments     []taskbridge.Attachment
}

// CreateTask creates a task from a JSON or multipart body, idempotently per
// (owner, clientRequestId), and hands it to the executor.
func (a *API) CreateTask(ctx context.Context, req gen.CreateTaskRequestObject) (gen.CreateTaskResponseObject, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var cr createRequest
	switch {
	case req.JSONBody != nil:
		cr, err = fromJSONBody(req.JSONBody)
	case req.MultipartBody != nil:
		cr, err = readMultipart(req.MultipartBody, a.cfg.Uploads.Limits(ctx, p))
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

// create checks the request with the policy and the executor, then records it.
func (a *API) create(ctx context.Context, p taskbridge.Principal, cr createRequest) (taskbridge.Task, bool, error) {
	if err := a.cfg.Ownership.CanCreate(ctx, p, cr.TaskType); err != nil {
		return taskbridge.Task{}, false, err
	}
	if err := a.cfg.Executor.CheckTask(ctx, cr.TaskType, cr.Input); err != nil {
		var input *taskbridge.InvalidInputError
		if errors.As(err, &input) && !strings.HasPrefix(input.Field, "/input") {
			input.Field = "/input" + input.Field
		}
		return taskbridge.Task{}, false, err
	}
	return a.cfg.Store.CreateTask(ctx, taskbridge.NewTask{
		ID:              rand.Text(),
		Owner:           p.Subject,
		ClientRequestID: cr.ClientRequestID,
		Type:            cr.TaskType,
		Input:           cr.Input,
		Metadata:        cr.Metadata,
		Attachments:     cr.Attachments,
		Fingerprint:     fingerprint(cr),
		CreatedAt:       a.now(),
	})
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

func fromJSONBody(b *gen.CreateTaskRequest) (createRequest, error) {
	cr := createRequest{ClientRequestID: b.ClientRequestId, TaskType: b.TaskType, Input: json.RawMessage("null"), Metadata: json.RawMessage("null")}
	var err error
	if b.Input != nil {
		if cr.Input, err = json.Marshal(b.Input); err != nil {
			return cr, invalid("input", "input cannot be encoded as JSON")
		}
	}
	if b.Metadata != nil {
		if cr.Metadata, err = json.Marshal(b.Metadata); err != nil {
			return cr, invalid("metadata", "metadata cannot be encoded as JSON")
		}
	}
	return cr, nil
}

// fingerprint summarises what create idempotency compares: the task type,
// the input (canonical JSON) and each attachment's name, type and bytes.
func fingerprint(cr createRequest) string {
	fields := [][]byte{[]byte(cr.TaskType), cr.Input}
	for _, f := range cr.Attachments {
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
