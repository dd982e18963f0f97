package services

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/gen"
)

// maxFieldBytes bounds each text field of a multipart create.
const maxFieldBytes = DefaultMaxBodyBytes

// readMultipart reads a multipart create part by part. Files are checked
// against the limits while they stream in, so an oversized or unwanted
// upload is refused as soon as it is seen, never buffered whole.
func readMultipart(r *multipart.Reader, limits taskbridge.UploadLimits, fieldsSchema *openapi3.Schema) (createRequest, error) {
	limits = withUploadDefaults(limits)
	fields := map[string]string{}
	var files []taskbridge.Attachment
	var total int64
	for {
		part, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return createRequest{}, malformedMultipart(err)
		}
		name := part.FormName()
		switch name {
		case "clientRequestId", "taskType", "input", "metadata":
			if _, seen := fields[name]; seen {
				return createRequest{}, unprocessable("/"+name, "is given more than once")
			}
			text, err := readField(part, name)
			if err != nil {
				return createRequest{}, err
			}
			fields[name] = text
		case "attachment", "attachments":
			if len(files) == limits.MaxFiles {
				return createRequest{}, fmt.Errorf("%w: more than %d files", taskbridge.ErrUploadRejected, limits.MaxFiles)
			}
			f, err := readFile(part, limits, limits.MaxTotalBytes-total)
			if err != nil {
				return createRequest{}, err
			}
			total += int64(len(f.Data))
			files = append(files, f)
		default:
			return createRequest{}, unprocessable("/"+name, fmt.Sprintf("property %q is unsupported", name))
		}
	}
	return multipartRequest(fields, files, fieldsSchema)
}

func malformedMultipart(err error) *Error {
	e := newError(http.StatusBadRequest, gen.ErrorCodeInvalidRequest, "the multipart body is malformed", "field", "body")
	e.Err = err
	return e
}

func readField(part *multipart.Part, name string) (string, error) {
	data, err := io.ReadAll(io.LimitReader(part, maxFieldBytes+1))
	if err != nil {
		return "", malformedMultipart(err)
	}
	if len(data) > maxFieldBytes {
		return "", newError(http.StatusRequestEntityTooLarge, gen.ErrorCodeInvalidRequest,
			fmt.Sprintf("the field %s is over %d bytes", name, maxFieldBytes), "field", name)
	}
	if !utf8.Valid(data) {
		return "", invalid(name, name+" is not UTF-8 text")
	}
	return string(data), nil
}

// readFile reads one file part, refusing it once it passes the per-file limit
// or what is left of the total.
func readFile(part *multipart.Part, limits taskbridge.UploadLimits, totalLeft int64) (taskbridge.Attachment, error) {
	contentType := part.Header.Get("Content-Type")
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return taskbridge.Attachment{}, fmt.Errorf("%w: %q has a malformed content type", taskbridge.ErrUploadRejected, part.FileName())
	}
	if !contentTypeAllowed(limits.AllowedContentTypes, mediaType) {
		return taskbridge.Attachment{}, fmt.Errorf("%w: content type %s is not accepted", taskbridge.ErrUploadRejected, mediaType)
	}
	limit, what := limits.MaxFileBytes, fmt.Sprintf("the per-file limit of %d bytes", limits.MaxFileBytes)
	if totalLeft < limit {
		limit, what = totalLeft, fmt.Sprintf("the total limit of %d bytes", limits.MaxTotalBytes)
	}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(part, limit+1))
	if err != nil {
		return taskbridge.Attachment{}, malformedMultipart(err)
	}
	if n > limit {
		return taskbridge.Attachment{}, fmt.Errorf("%w: %q is over %s", taskbridge.ErrUploadTooLarge, part.FileName(), what)
	}
	return taskbridge.Attachment{Field: part.FormName(), Name: part.FileName(), ContentType: contentType, Data: buf.Bytes()}, nil
}

// multipartRequest checks the text fields against the spec's
// CreateTaskMultipartRequest and decodes input and metadata.
func multipartRequest(fields map[string]string, files []taskbridge.Attachment, schema *openapi3.Schema) (createRequest, error) {
	cr := createRequest{ClientRequestID: fields["clientRequestId"], TaskType: fields["taskType"], Attachments: files}
	text := make(map[string]any, len(fields))
	for name, v := range fields {
		text[name] = v
	}
	if err := schema.VisitJSON(text); err != nil {
		var se *openapi3.SchemaError
		if errors.As(err, &se) {
			return cr, unprocessable(schemaField(se), se.Reason)
		}
		return cr, unprocessable("/", "the fields do not match the API")
	}
	var err error
	if cr.Input, err = jsonObjectField(fields, "input"); err != nil {
		return cr, err
	}
	if cr.Metadata, err = jsonObjectField(fields, "metadata"); err != nil {
		return cr, err
	}
	return cr, nil
}

// jsonObjectField decodes a field holding a JSON object as text; nil when
// the field is absent.
func jsonObjectField(fields map[string]string, name string) (map[string]any, error) {
	text, ok := fields[name]
	if !ok {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		return nil, invalid(name, name+" is not valid JSON")
	}
	o, ok := v.(map[string]any)
	if !ok {
		return nil, unprocessable("/"+name, "must be a JSON object")
	}
	return o, nil
}
