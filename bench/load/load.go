// Package load drives a TaskBridge server the way many real clients would and
// measures what they receive: it creates scripted ticks tasks, follows each
// with subscribers over SSE, WebSocket or long-poll, releases the ticks once
// every subscriber is live, and counts deliveries, latency, losses and
// reconnects, with the server's CPU and memory read from /proc.
//
// Each task runs the script suspend → ticks → complete. The suspension holds
// the ticks back until every subscriber has received it, so latency is only
// measured on live delivery, never on replay; the load tool then answers the
// suspension and the ticks start.
package load

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Config is one run of the load tool. Zero values take the defaults below.
type Config struct {
	// BaseURL is the server, e.g. http://127.0.0.1:8080.
	BaseURL string
	// FollowURL, when set, is another replica of the server that the
	// subscribers follow their tasks on, while tasks are created, answered
	// and cancelled on BaseURL: the latency then spans the two replicas.
	FollowURL string
	// Token is the bearer token of every request (default "load").
	Token string
	// Transport is how subscribers follow their task (default SSE).
	Transport Transport
	// Tasks is how many tasks run at once (default 1).
	Tasks int
	// Subscribers is how many subscribers follow the tasks in all, spread
	// evenly over them (default Tasks).
	Subscribers int
	// Rate is the events per second of all tasks together (default 100).
	// Zero subscribers aside, deliveries per second are Rate times the
	// subscribers per task.
	Rate float64
	// Duration is how long the ticks last (default 10 s).
	Duration time.Duration
	// PayloadBytes sets each tick's message to exactly this many bytes
	// (0 keeps "tick i/n").
	PayloadBytes int
	// Idle holds the subscribers on suspended tasks instead of ticking,
	// for Hold, to measure memory per idle connection and whether
	// connections stay up.
	Idle bool
	// Hold is how long an idle run holds its subscribers (default 10 s).
	Hold time.Duration
	// ServerPID is the server's process id, for CPU and RSS from /proc;
	// 0 leaves them out.
	ServerPID int
	// ConnectParallelism bounds the subscribers connecting at once
	// (default 64), so that a burst does not overflow the listen backlog.
	ConnectParallelism int
	// Timeout bounds each phase beyond its planned length: connecting,
	// and the end of the ticks (default 60 s).
	Timeout time.Duration
}

func (c *Config) defaults() error {
	if c.BaseURL == "" {
		return errors.New("no server URL")
	}
	c.Token = cmp.Or(c.Token, "load")
	c.Transport = cmp.Or(c.Transport, SSE)
	c.Tasks = cmp.Or(c.Tasks, 1)
	c.Subscribers = cmp.Or(c.Subscribers, c.Tasks)
	c.Rate = cmp.Or(c.Rate, 100)
	c.Duration = cmp.Or(c.Duration, 10*time.Second)
	c.Hold = cmp.Or(c.Hold, 10*time.Second)
	c.ConnectParallelism = cmp.Or(c.ConnectParallelism, 64)
	c.Timeout = cmp.Or(c.Timeout, time.Minute)
	switch {
	case c.Tasks < 0 || c.Subscribers < 0 || c.Rate < 0 || c.Duration < 0 || c.PayloadBytes < 0:
		return errors.New("counts, rate and durations must not be negative")
	case c.Subscribers < c.Tasks:
		return fmt.Errorf("%d subscribers cannot follow %d tasks", c.Subscribers, c.Tasks)
	case c.ticksPerTask() < 1 && !c.Idle:
		return errors.New("rate × duration gives less than one tick per task")
	}
	return nil
}

// ticksPerTask is how many TASK_MESSAGE events each task reports.
func (c *Config) ticksPerTask() int {
	return int(math.Round(c.Rate / float64(c.Tasks) * c.Duration.Seconds()))
}

// tickInterval is the time between two ticks of one task.
func (c *Config) tickInterval() time.Duration {
	return time.Duration(float64(c.Tasks) / c.Rate * float64(time.Second))
}

// Run performs one run and reports what the subscribers received. An error
// means the run could not be carried out (the server refused to create the
// tasks, say); losses and disconnects are reported in the Result.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.defaults(); err != nil {
		return Result{}, err
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil {
		return Result{}, fmt.Errorf("server URL: %w", err)
	}
	follow := base
	if cfg.FollowURL != "" {
		if follow, err = url.Parse(cfg.FollowURL); err != nil {
			return Result{}, fmt.Errorf("follow URL: %w", err)
		}
	}
	r := &runner{cfg: cfg, client: newClient(base, cfg.Token), follower: newClient(follow, cfg.Token), start: make(chan struct{})}
	return r.run(ctx)
}

// runner is the state of one Run.
type runner struct {
	cfg    Config
	client *client
	// follower connects the subscribers (to FollowURL when set).
	follower    *client
	start       chan struct{}
	tasks       []*task
	subscribers []*subscriber
}

func (r *runner) run(ctx context.Context) (Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := r.createTasks(ctx); err != nil {
		return Result{}, err
	}
	stream, err := r.follower.streamFor(r.cfg.Transport)
	if err != nil {
		return Result{}, err
	}
	before, err := readProc(r.cfg.ServerPID)
	if err != nil {
		return Result{}, err
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel() // runs before wg.Wait: ends every subscriber
	if err := r.connect(ctx, &wg, stream); err != nil {
		return Result{}, err
	}
	select { // let the server settle before reading its memory
	case <-ctx.Done():
		return Result{}, ctx.Err()
	case <-time.After(time.Second):
	}
	connected, err := readProc(r.cfg.ServerPID)
	if err != nil {
		return Result{}, err
	}
	res := Result{Config: r.cfg}
	if r.cfg.ServerPID != 0 {
		res.IdleBytesPerSubscriber = (connected.rss - before.rss) / int64(r.cfg.Subscribers)
	}

	lagBefore, haveLag := r.follower.scrapeLag(ctx, r.cfg.Transport)
	began := time.Now()
	if r.cfg.Idle {
		err = r.holdThenCancel(ctx)
	} else {
		err = r.tick(ctx)
	}
	if err != nil {
		return Result{}, err
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(r.cfg.Duration + r.cfg.Timeout):
		cancel()
		<-done
	}
	after, err := readProc(r.cfg.ServerPID)
	if err != nil {
		return Result{}, err
	}
	res.ServerCPU, res.ServerRSS = after.cpu-connected.cpu, after.rss
	if lagAfter, ok := r.follower.scrapeLag(ctx, r.cfg.Transport); ok && haveLag {
		res.ServerLagP50, _ = lagQuantile(lagBefore, lagAfter, 0.5)
		res.ServerLagP99, res.ServerLag = lagQuantile(lagBefore, lagAfter, 0.99)
	}
	r.collect(&res, began)
	return res, nil
}

// createTasks creates the tasks, a few at a time.
func (r *runner) createTasks(ctx context.Context) error {
	script := map[string]any{"steps": []any{
		map[string]any{"suspend": map[string]any{"reasonCode": "load_start", "allowedActions": []string{"start"}}},
		map[string]any{"ticks": map[string]any{
			"count":        r.cfg.ticksPerTask(),
			"intervalMs":   float64(r.cfg.tickInterval()) / float64(time.Millisecond),
			"payloadBytes": r.cfg.PayloadBytes,
		}},
		map[string]any{"complete": map[string]any{}},
	}}
	run := time.Now().UnixNano()
	r.tasks = make([]*task, r.cfg.Tasks)
	return forEach(ctx, r.cfg.Tasks, 32, func(ctx context.Context, i int) error {
		body := map[string]any{
			"taskType":        "scripted",
			"clientRequestId": fmt.Sprintf("load-%d-%d", run, i),
			"input":           script,
		}
		var created struct {
			TaskID string `json:"taskId"`
		}
		if err := r.client.postJSON(ctx, "/api/v1/tasks", body, &created); err != nil {
			return fmt.Errorf("create a task: %w", err)
		}
		r.tasks[i] = &task{id: created.TaskID}
		return nil
	})
}

// connect starts every subscriber and waits until each has received its
// task's suspension, so that all of them are live before the ticks begin.
func (r *runner) connect(ctx context.Context, wg *sync.WaitGroup, stream streamFunc) error {
	r.subscribers = make([]*subscriber, r.cfg.Subscribers)
	ticks := 0
	if !r.cfg.Idle {
		ticks = r.cfg.ticksPerTask()
	}
	for i := range r.subscribers {
		r.subscribers[i] = newSubscriber(r.tasks[i%len(r.tasks)], stream, r.start, ticks)
	}
	connectCtx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	slots := make(chan struct{}, r.cfg.ConnectParallelism)
	for _, s := range r.subscribers {
		select {
		case slots <- struct{}{}:
		case <-connectCtx.Done():
			return r.notReady()
		}
		wg.Go(func() { s.run(ctx) })
		go func() { // released when s is ready, or at the deadline
			defer func() { <-slots }()
			select {
			case <-s.ready:
			case <-connectCtx.Done():
			}
		}()
	}
	for _, s := range r.subscribers {
		select {
		case <-s.ready:
		case <-connectCtx.Done():
			return r.notReady()
		}
	}
	return nil
}

func (r *runner) notReady() error {
	n, why := 0, ""
	for _, s := range r.subscribers {
		if isClosed(s.ready) {
			continue
		}
		n++
		if last := s.lastErr.Load(); last != nil && why == "" {
			why = "; one of them last failed with: " + *last
		}
	}
	return fmt.Errorf("%d of %d subscribers did not receive their task's suspension within %v%s", n, len(r.subscribers), r.cfg.Timeout, why)
}

// tick releases every task's ticks, spreading the starts evenly over one
// tick interval so that the tasks together tick at a steady Rate rather
// than all at once.
func (r *runner) tick(ctx context.Context) error {
	close(r.start)
	began, spacing := time.Now(), r.cfg.tickInterval()/time.Duration(len(r.tasks))
	return forEach(ctx, len(r.tasks), 32, func(ctx context.Context, i int) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Until(began.Add(time.Duration(i) * spacing))):
		}
		t := r.tasks[i]
		action := map[string]any{
			"suspendId":      t.suspension(),
			"actionType":     "start",
			"clientActionId": "load-start",
		}
		if err := r.client.postJSON(ctx, "/api/v1/tasks/"+t.id+"/actions", action, nil); err != nil {
			return fmt.Errorf("answer the suspension of %s: %w", t.id, err)
		}
		return nil
	})
}

// holdThenCancel keeps the idle subscribers connected for Hold, then
// cancels every task so that their streams end.
func (r *runner) holdThenCancel(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(r.cfg.Hold):
	}
	close(r.start)
	return forEach(ctx, len(r.tasks), 32, func(ctx context.Context, i int) error {
		return r.client.postJSON(ctx, "/api/v1/tasks/"+r.tasks[i].id+"/cancel", map[string]any{"reason": "load_done"}, nil)
	})
}

// postJSON posts body and decodes a 2xx answer into out (when not nil).
func (c *client) postJSON(ctx context.Context, path string, body, out any) error {
	payload, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url(path, nil), bytes.NewReader(payload))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var answer bytes.Buffer
	_, _ = answer.ReadFrom(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(answer.Bytes()))
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(answer.Bytes(), out)
}

// forEach runs fn(ctx, 0..n-1), at most `parallel` at once; the first
// error cancels the ctx of the others and is returned.
func forEach(ctx context.Context, n, parallel int, fn func(context.Context, int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	for i := range n {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error { return fn(gctx, i) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err() // gctx ends with Wait; ctx says whether the run was stopped
}

// collect adds up what the subscribers received.
func (r *runner) collect(res *Result, began time.Time) {
	samples := 0
	for _, s := range r.subscribers {
		samples += len(s.latencies)
	}
	latencies := make([]int32, 0, samples)
	var last time.Time
	for _, s := range r.subscribers {
		latencies = append(latencies, s.latencies...)
		res.Deliveries += s.received
		res.Duplicates += s.duplicates
		res.Reordered += s.reordered
		res.Reconnects += s.reconnects
		res.ConnErrors += s.connErrors
		if last := s.lastErr.Load(); last != nil && res.StreamError == "" {
			res.StreamError = *last
		}
		if s.lastAt.After(last) {
			last = s.lastAt
		}
		end := s.task.terminalID()
		if !s.done || end == 0 {
			res.Unfinished++
			end = max(end, s.cursor)
		}
		missing := s.missing(end)
		res.Missing += missing
		res.MaxMissingPerSubscriber = max(res.MaxMissingPerSubscriber, missing)
	}
	res.Window = last.Sub(began)
	if res.Window > 0 {
		res.DeliveriesPerSecond = float64(res.Deliveries) / res.Window.Seconds()
	}
	slices.Sort(latencies)
	res.Samples = len(latencies)
	res.P50, res.P90, res.P99, res.Max = quantile(latencies, 0.5), quantile(latencies, 0.9), quantile(latencies, 0.99), quantile(latencies, 1)
}

// quantile of sorted µs samples, as a duration (nearest rank).
func quantile(sorted []int32, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return time.Duration(sorted[max(i, 0)]) * time.Microsecond
}
