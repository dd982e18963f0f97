package services

import (
	"bytes"
	"mime/multipart"
	"regexp"
	"testing"
	"unicode/utf8"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/gen"
)

// identifier is what the contract allows of a client's identifier.
var identifier = regexp.MustCompile(`^[^\x00-\x1F\x7F-\x9F]{1,128}$`)

// FuzzMultipartCreate: whatever multipart body a client sends, reading it
// never panics; a refusal is a 4xx of the envelope; what it accepts keeps
// the contract (identifiers, JSON objects) and the upload limits.
func FuzzMultipartCreate(f *testing.F) {
	seed := func(parts ...string) {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		_ = w.SetBoundary("B")
		for i := 0; i+1 < len(parts); i += 2 {
			if parts[i] == "attachment" {
				fw, _ := w.CreateFormFile("attachment", "f.txt")
				_, _ = fw.Write([]byte(parts[i+1]))
				continue
			}
			_ = w.WriteField(parts[i], parts[i+1])
		}
		_ = w.Close()
		f.Add(buf.Bytes())
	}
	seed("clientRequestId", "r1", "taskType", "echo", "input", `{"a":1}`, "metadata", `{"m":true}`)
	seed("clientRequestId", "r1", "taskType", "echo", "attachment", "hello")
	seed("clientRequestId", "r\x00", "taskType", "echo")
	seed("clientRequestId", "r1", "taskType", "echo", "input", `[1]`)
	seed("clientRequestId", "r1", "clientRequestId", "r2", "taskType", "echo")
	seed("taskType", "echo", "color", "red")
	f.Add([]byte("--B\r\nnot a part"))
	f.Add([]byte(""))

	spec, err := gen.GetSwagger()
	if err != nil {
		f.Fatal(err)
	}
	schema := spec.Components.Schemas["CreateTaskMultipartRequest"].Value
	limits := taskbridge.UploadLimits{MaxFileBytes: 64, MaxTotalBytes: 100, MaxFiles: 2}
	f.Fuzz(func(t *testing.T, body []byte) {
		cr, err := readMultipart(multipart.NewReader(bytes.NewReader(body), "B"), limits, schema)
		if err != nil {
			if e := envelope(err); e.Status < 400 || e.Status >= 500 {
				t.Fatalf("%q: refused with %d %s (%v)", body, e.Status, e.Code, err)
			}
			return
		}
		if !identifier.MatchString(cr.ClientRequestID) || !identifier.MatchString(cr.TaskType) {
			t.Fatalf("%q: accepted identifiers %q, %q", body, cr.ClientRequestID, cr.TaskType)
		}
		if !utf8.ValidString(cr.ClientRequestID) || !utf8.ValidString(cr.TaskType) {
			t.Fatalf("%q: accepted identifiers that are not UTF-8", body)
		}
		total := 0
		for _, a := range cr.Attachments {
			total += len(a.Data)
			if int64(len(a.Data)) > limits.MaxFileBytes {
				t.Fatalf("%q: a file of %d bytes passed the limit", body, len(a.Data))
			}
		}
		if len(cr.Attachments) > limits.MaxFiles || int64(total) > limits.MaxTotalBytes {
			t.Fatalf("%q: %d files of %d bytes passed the limits", body, len(cr.Attachments), total)
		}
	})
}
