// Command minimal is a whole taskbridge host in one screen; see the README.
package main

import (
	"cmp"
	"context"
	"flag"
	"log"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/bridge"
	"github.com/taskbridge-go/taskbridge/examples/minimal/jobs"
)

type publisher struct{} // jobs.Handlers: drafts a post, asks an editor, publishes it unless rejected

func (publisher) Publish(ctx context.Context, in jobs.PublishInput, run *jobs.PublishRun) (jobs.PublishResult, error) {
	result := jobs.PublishResult{Words: len(strings.Fields(in.Text))}
	if err := run.Progress(ctx, taskbridge.Progress{Percent: 50, Stage: "drafted"}); err != nil {
		return result, err
	}
	answer, err := run.SuspendReview(ctx, bridge.SuspendOptions{Interaction: map[string]string{"title": in.Title}})
	if answer.Reject != nil {
		result.Reason = &answer.Reject.Reason
	} else if err == nil {
		result.Published, result.Url = true, new("https://blog.example/posts/"+run.Task().ID)
	}
	return result, err
}

// auth is the host's own: each user has an API token.
func auth(_ context.Context, token string) (taskbridge.Principal, error) {
	if user, ok := map[string]string{"alice-token": "alice", "bob-token": "bob"}[token]; ok {
		return taskbridge.Principal{Subject: user}, nil
	}
	return taskbridge.Principal{}, taskbridge.ErrUnauthenticated
}

func main() {
	addr := flag.String("addr", cmp.Or(os.Getenv("TASKBRIDGE_ADDR"), "127.0.0.1:8080"), "listen address")
	flag.Parse()
	b, err := bridge.New(bridge.Config{TaskTypes: jobs.TaskTypes(publisher{}), Auth: bridge.BearerAuth(auth),
		HTTP: bridge.HTTP{Base: "/v2/jobs"}, Logger: slog.Default()})
	if err != nil {
		log.Fatal(err)
	}
	e := echo.New()
	e.GET("/version", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"version": "1"}) })
	b.Mount(e)
	if err := b.ListenAndServe(context.Background(), *addr, e); err != nil { // until SIGINT or SIGTERM
		log.Fatal(err)
	}
}
