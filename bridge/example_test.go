package bridge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/bridge"
	"github.com/taskbridge-go/taskbridge/examples/minimal/jobs"
)

// publisher publishes at once, with no editor.
type publisher struct{}

func (publisher) Publish(_ context.Context, in jobs.PublishInput, _ *jobs.PublishRun) (jobs.PublishResult, error) {
	return jobs.PublishResult{Published: true, Words: len(strings.Fields(in.Text))}, nil
}

// A host mounts the bridge under a base path of its own, on its own router,
// and the contract of its task types is enforced at create.
func Example() {
	b, err := bridge.New(bridge.Config{
		TaskTypes: jobs.TaskTypes(publisher{}),
		Auth: bridge.BearerAuth(func(_ context.Context, token string) (taskbridge.Principal, error) {
			return taskbridge.Principal{Subject: token}, nil
		}),
		HTTP: bridge.HTTP{Base: "/v2/jobs"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	e := echo.New()
	b.Mount(e)
	server := httptest.NewServer(e)
	defer server.Close()
	go b.Run(context.Background())
	defer b.Shutdown(context.Background())

	for i, input := range []string{`{"title":"Hi","text":"a b c"}`, `{"text":"no title"}`} {
		body := fmt.Sprintf(`{"clientRequestId":"r%d","taskType":"publish","input":%s}`, i, input)
		req, _ := http.NewRequest(http.MethodPost, server.URL+"/v2/jobs/tasks", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer alice")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		var answer struct {
			Status  string
			Code    string
			Details struct{ Field string }
		}
		_ = json.NewDecoder(res.Body).Decode(&answer)
		res.Body.Close()
		if res.StatusCode == http.StatusCreated {
			fmt.Println(res.StatusCode, answer.Status)
		} else {
			fmt.Println(res.StatusCode, answer.Code, answer.Details.Field)
		}
	}
	// Output:
	// 201 ACCEPTED
	// 422 REQUEST_VALIDATION_ERROR /input/title
}
