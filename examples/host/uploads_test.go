package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge/gen"
)

type upload struct {
	field, name, contentType string
	data                     []byte
}

// multipartBody writes the fields in order, then the files.
func multipartBody(t *testing.T, fields [][2]string, files ...upload) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, f := range fields {
		require.NoError(t, w.WriteField(f[0], f[1]))
	}
	for _, f := range files {
		hdr := textproto.MIMEHeader{}
		hdr.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, f.field, f.name))
		hdr.Set("Content-Type", f.contentType)
		part, err := w.CreatePart(hdr)
		require.NoError(t, err)
		_, err = part.Write(f.data)
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	return w.FormDataContentType(), buf.Bytes()
}

func TestMultipartCreate(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	fields := [][2]string{{"clientRequestId", "mp-1"}, {"taskType", "echo"}, {"input", `{"b":2,"a":1}`}, {"metadata", `{"m":true}`}}
	photo := upload{"attachment", "photo.png", "image/png", []byte("\x89PNG fake image bytes")}
	create := func(fields [][2]string, files ...upload) response {
		ct, body := multipartBody(t, fields, files...)
		return h.do(t, http.MethodPost, "/api/v1/tasks", "alice", ct, bytes.NewReader(body))
	}

	r := create(fields, photo, upload{"attachments", "notes.txt", "text/plain", []byte("hello")})
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	var created gen.CreateTaskResponse
	require.NoError(t, json.Unmarshal(r.body, &created))
	events := h.follow(t, "alice", created.TaskId)
	require.JSONEq(t, `{"result":{"a":1,"b":2}}`, string(events[len(events)-1].Payload))

	t.Run("the same upload again: deduplicated", func(t *testing.T) {
		r := create(fields, photo, upload{"attachments", "notes.txt", "text/plain", []byte("hello")})
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	})
	t.Run("the same input as JSON without files is a different request", func(t *testing.T) {
		r := h.doJSON(t, http.MethodPost, "/api/v1/tasks", "alice", map[string]any{"clientRequestId": "mp-1", "taskType": "echo", "input": map[string]any{"a": 1, "b": 2}})
		requireEnvelope(t, r, http.StatusConflict, gen.ErrorCodeIdempotencyConflict)
	})
	t.Run("other bytes: 409", func(t *testing.T) {
		r := create(fields, upload{"attachment", "photo.png", "image/png", []byte("other bytes")}, upload{"attachments", "notes.txt", "text/plain", []byte("hello")})
		requireEnvelope(t, r, http.StatusConflict, gen.ErrorCodeIdempotencyConflict)
	})
	t.Run("multipart and JSON creates of one input compare equal", func(t *testing.T) {
		r := create([][2]string{{"clientRequestId", "mp-2"}, {"taskType", "echo"}, {"input", `{"x":[1,2]}`}})
		require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
		r = h.doJSON(t, http.MethodPost, "/api/v1/tasks", "alice", map[string]any{"clientRequestId": "mp-2", "taskType": "echo", "input": map[string]any{"x": []int{1, 2}}})
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	})

	bad := []struct {
		name   string
		fields [][2]string
		files  []upload
		status int
		code   gen.ErrorCode
		field  string
	}{
		{"bad JSON in input", [][2]string{{"clientRequestId", "b1"}, {"taskType", "echo"}, {"input", `{nope`}}, nil, 400, gen.ErrorCodeInvalidRequest, "input"},
		{"input not an object", [][2]string{{"clientRequestId", "b2"}, {"taskType", "echo"}, {"input", `[1]`}}, nil, 422, gen.ErrorCodeRequestValidationError, "/input"},
		{"missing taskType", [][2]string{{"clientRequestId", "b3"}}, nil, 422, gen.ErrorCodeRequestValidationError, "/taskType"},
		{"unknown field", [][2]string{{"clientRequestId", "b4"}, {"taskType", "echo"}, {"color", "red"}}, nil, 422, gen.ErrorCodeRequestValidationError, "/color"},
		{"field twice", [][2]string{{"clientRequestId", "b5"}, {"clientRequestId", "b6"}, {"taskType", "echo"}}, nil, 422, gen.ErrorCodeRequestValidationError, "/clientRequestId"},
		{"too many files", [][2]string{{"clientRequestId", "b7"}, {"taskType", "echo"}}, manyFiles(11), 400, gen.ErrorCodeUploadValidationError, ""},
		{"NUL in clientRequestId", [][2]string{{"clientRequestId", "b8\x00"}, {"taskType", "echo"}}, nil, 422, gen.ErrorCodeRequestValidationError, "/clientRequestId"},
		{"control character in taskType", [][2]string{{"clientRequestId", "b9"}, {"taskType", "echo\x1b"}}, nil, 422, gen.ErrorCodeRequestValidationError, "/taskType"},
		{"clientRequestId too long", [][2]string{{"clientRequestId", strings.Repeat("é", 129)}, {"taskType", "echo"}}, nil, 422, gen.ErrorCodeRequestValidationError, "/clientRequestId"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			details := requireEnvelope(t, create(c.fields, c.files...), c.status, c.code)
			if c.field != "" {
				require.Equal(t, c.field, details["field"])
			}
		})
	}
	t.Run("malformed multipart", func(t *testing.T) {
		r := h.do(t, http.MethodPost, "/api/v1/tasks", "alice", "multipart/form-data; boundary=xyz", bytes.NewReader([]byte("--xyz\r\nnot a part")))
		requireEnvelope(t, r, http.StatusBadRequest, gen.ErrorCodeInvalidRequest)
	})
}

func manyFiles(n int) []upload {
	files := make([]upload, n)
	for i := range files {
		files[i] = upload{"attachments", fmt.Sprintf("f%d.txt", i), "text/plain", []byte("x")}
	}
	return files
}

// TestOversizedUploadIsRefusedWhileStreaming sends a chunked body whose file
// never ends: only a server that refuses the file while it reads, without
// first reading the body into memory, can answer, and it must answer 413.
func TestOversizedUploadIsRefusedWhileStreaming(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	head := "--B\r\nContent-Disposition: form-data; name=\"clientRequestId\"\r\n\r\nbig\r\n" +
		"--B\r\nContent-Disposition: form-data; name=\"taskType\"\r\n\r\necho\r\n" +
		"--B\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"huge.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.base, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "POST /api/v1/tasks HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer alice\r\n"+
		"Content-Type: multipart/form-data; boundary=B\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", len(head), head)
	require.NoError(t, err)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		payload := bytes.Repeat([]byte{'x'}, 64<<10)
		chunk := append(fmt.Appendf(nil, "%x\r\n", len(payload)), payload...)
		chunk = append(chunk, "\r\n"...)
		// At most 1 GiB, never the final chunk: a server that waits for the
		// end of the body never answers.
		for range (1 << 30) / len(payload) {
			if _, err := conn.Write(chunk); err != nil {
				return // the server stopped reading and closed
			}
		}
	}()
	// Guards against a hang only; a correct server answers after ~10 MiB.
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(2*time.Minute)))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err, "the server answered while the upload was still streaming")
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	res.Body.Close()
	conn.Close()
	<-writerDone
	requireEnvelope(t, response{status: res.StatusCode, header: res.Header, body: body}, http.StatusRequestEntityTooLarge, gen.ErrorCodeUploadValidationError)
	require.Equal(t, http.StatusOK, h.do(t, http.MethodGet, "/health", "", "", nil).status, "the host keeps serving")
}
