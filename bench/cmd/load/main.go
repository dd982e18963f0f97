// Command load drives a running TaskBridge server with many subscribers and
// prints one line of figures; see package bench/load for what it does.
//
//	go run ./bench/cmd/load -url http://127.0.0.1:8080 -transport sse \
//	    -subscribers 1000 -rate 400 -duration 10s -server-pid $(pgrep -f host)
//
// It exits 1 when the run could not be carried out and 3 when it ran but a
// subscriber lost, doubled or reordered an event or never reached the end.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/taskbridge-go/taskbridge/bench/load"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var cfg load.Config
	var transport, cpuProfile string
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.BaseURL, "url", "http://127.0.0.1:8080", "the server")
	fs.StringVar(&cfg.FollowURL, "follow-url", "", "another replica to follow the tasks on (default: -url)")
	fs.StringVar(&cfg.Token, "token", "load", "bearer token of every request")
	fs.StringVar(&transport, "transport", "sse", "sse, ws or poll")
	fs.IntVar(&cfg.Tasks, "tasks", 1, "tasks running at once")
	fs.IntVar(&cfg.Subscribers, "subscribers", 0, "subscribers in all, spread over the tasks (default: one per task)")
	fs.Float64Var(&cfg.Rate, "rate", 100, "events per second of all tasks together")
	fs.DurationVar(&cfg.Duration, "duration", 0, "how long the ticks last (default 10s)")
	fs.IntVar(&cfg.PayloadBytes, "payload-bytes", 0, "exact size of each tick's message (0: \"tick i/n\")")
	fs.BoolVar(&cfg.Idle, "idle", false, "hold idle subscribers on suspended tasks instead of ticking")
	fs.DurationVar(&cfg.Hold, "hold", 0, "how long -idle holds the subscribers (default 10s)")
	fs.IntVar(&cfg.ServerPID, "server-pid", 0, "the server's pid, for CPU and RSS from /proc (0: leave out)")
	fs.IntVar(&cfg.ConnectParallelism, "connect-parallelism", 0, "subscribers connecting at once (default 64)")
	fs.DurationVar(&cfg.Timeout, "timeout", 0, "bound of each phase beyond its planned length (default 1m)")
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write the load tool's own CPU profile to this file, to tell its limits from the server's")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if cpuProfile != "" {
		stop, err := profileCPU(cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "load:", err)
			return 1
		}
		defer stop()
	}
	cfg.Transport = load.Transport(transport)
	res, err := load.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "load:", err)
		return 1
	}
	fmt.Fprintln(stdout, res)
	if !res.Lossless() {
		return 3
	}
	return 0
}

// profileCPU profiles this process into path until stop is called.
func profileCPU(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
