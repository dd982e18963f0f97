package memory

import (
	"bytes"
	"encoding/json"
	"slices"

	"github.com/taskbridge-go/taskbridge"
)

// The clone functions copy what a value shares through slices and
// pointers, so that the store and its callers never alias each other.

func cloneRaw(b json.RawMessage) json.RawMessage {
	return bytes.Clone(b)
}

func cloneTask(t taskbridge.Task) taskbridge.Task {
	t.Input = cloneRaw(t.Input)
	t.Metadata = cloneRaw(t.Metadata)
	t.Progress = cloneRaw(t.Progress)
	t.Outcome = cloneRaw(t.Outcome)
	if t.Attachments != nil {
		as := make([]taskbridge.Attachment, len(t.Attachments))
		for i, a := range t.Attachments {
			a.Data = bytes.Clone(a.Data)
			as[i] = a
		}
		t.Attachments = as
	}
	return t
}

func cloneRequest(a taskbridge.ActionRequest) taskbridge.ActionRequest {
	a.Payload = cloneRaw(a.Payload)
	a.Metadata = cloneRaw(a.Metadata)
	a.AcceptedEvent = cloneRaw(a.AcceptedEvent)
	return a
}

func cloneReceipt(r taskbridge.ActionReceipt) taskbridge.ActionReceipt {
	r.ActionRequest = cloneRequest(r.ActionRequest)
	return r
}

func cloneSuspension(s taskbridge.Suspension) taskbridge.Suspension {
	s.AllowedActions = slices.Clone(s.AllowedActions)
	s.Payload = cloneRaw(s.Payload)
	if s.Action != nil {
		rc := cloneReceipt(*s.Action)
		s.Action = &rc
	}
	return s
}
