package services_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/taskbridge-go/taskbridge/gen"
)

// FuzzCreateJSON sends any body as a JSON create through the whole request
// guard and the create handler: nothing panics or answers 5xx, a refusal is
// a 4xx with the envelope, and an accepted create answers a task.
func FuzzCreateJSON(f *testing.F) {
	for _, s := range []string{
		`{"clientRequestId":"r","taskType":"job"}`,
		`{"clientRequestId":"r","taskType":"typed","input":{"text":"x","count":3}}`,
		`{"clientRequestId":"r","taskType":"typed","input":{"text":""}}`,
		`{"clientRequestId":"r","taskType":"nope"}`,
		`{"clientRequestId":"r\u0000","taskType":"job"}`,
		`{"clientRequestId":"r","taskType":"job","input":[1],"metadata":{}}`,
		`{"clientRequestId":`, `[]`, `null`, ``, `{"clientRequestId":"r","taskType":"job","x":1}`,
		`{"clientRequestId":"r","taskType":"typed","input":{"text":"x","count":1e400}}`,
	} {
		f.Add([]byte(s))
	}
	fx := newFixture(f, nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/tasks", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Subject", "alice")
		rec := httptest.NewRecorder()
		fx.echo.ServeHTTP(rec, req)
		switch {
		case rec.Code >= 500:
			t.Fatalf("%q: %d %s", body, rec.Code, rec.Body)
		case rec.Code >= 400:
			var e gen.ErrorResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Code == "" || e.Message == "" || e.Details == nil || e.Timestamp.Before(time.Unix(0, 0)) {
				t.Fatalf("%q: %d without the envelope: %s", body, rec.Code, rec.Body)
			}
		case rec.Code == http.StatusCreated || rec.Code == http.StatusOK:
			var c gen.CreateTaskResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &c); err != nil || c.TaskId == "" {
				t.Fatalf("%q: %d with %s", body, rec.Code, rec.Body)
			}
		default:
			t.Fatalf("%q: unexpected %d", body, rec.Code)
		}
	})
}
