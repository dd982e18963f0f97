package hostapp

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/taskbridge-go/taskbridge"
)

// TestMain fails the package's tests when a goroutine outlives them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fake is an executor option whose flag, check and constructor the tests
// watch.
type fake struct {
	target  string
	made    bool
	closed  bool
	newErr  error
	hookErr error
}

func (f *fake) option() Option {
	return WithExecutor(Executor{
		Name:  "fake",
		Help:  "the tasks run nowhere (a test's)",
		Flags: func(fs *flag.FlagSet) { fs.StringVar(&f.target, "fake-target", "", "where the fake runs tasks") },
		Check: func() error {
			if f.target == "" {
				return errors.New("-executor fake needs -fake-target")
			}
			return nil
		},
		New: func(_ context.Context, env Env) (Wiring, error) {
			if f.newErr != nil {
				return Wiring{}, f.newErr
			}
			if env.Store == nil || env.Logger == nil || env.TaskTypes.Contract == nil {
				return Wiring{}, errors.New("an empty Env")
			}
			f.made = true
			return Wiring{
				Executor: func(taskbridge.Reporter) (taskbridge.TaskExecutor, error) { return nil, f.hookErr },
				Close:    func() { f.closed = true },
			}, nil
		},
	})
}

func TestAnExecutorsFlagsAreTheHosts(t *testing.T) {
	t.Setenv("TASKBRIDGE_FAKE_TARGET", "")
	var f fake
	var help bytes.Buffer
	require.Equal(t, 0, Main(t.Context(), []string{"-h"}, io.Discard, &help, nil, f.option()))
	require.Contains(t, help.String(), "what runs the tasks: local or fake")
	require.Contains(t, help.String(), "\n  fake      the tasks run nowhere (a test's)\n")
	require.Contains(t, help.String(), "\n  -fake-target string\n")
	require.Contains(t, help.String(), "\n  TASKBRIDGE_FAKE_TARGET")

	var stderr bytes.Buffer
	require.Equal(t, 2, Main(t.Context(), []string{"-executor", "fake"}, io.Discard, &stderr, nil, f.option()))
	require.Contains(t, stderr.String(), "-executor fake needs -fake-target")
	require.Equal(t, 2, Main(t.Context(), []string{"-executor", "other"}, io.Discard, io.Discard, nil, f.option()))
	require.False(t, f.made)
}

func TestAnExecutorIsMadeAndClosed(t *testing.T) {
	t.Parallel()
	f := fake{newErr: errors.New("no server")}
	var stderr bytes.Buffer
	require.Equal(t, 1, Main(t.Context(), []string{"-addr", "127.0.0.1:0", "-executor", "fake", "-fake-target", "x"}, io.Discard, &stderr, nil, f.option()))
	require.Contains(t, stderr.String(), "no server")

	// The bridge refuses the executor the hook fails to make; what New
	// took is closed all the same.
	g := fake{hookErr: errors.New("refused")}
	stderr.Reset()
	require.Equal(t, 1, Main(t.Context(), []string{"-addr", "127.0.0.1:0", "-executor", "fake", "-fake-target", "x"}, io.Discard, &stderr, nil, g.option()))
	require.True(t, g.made)
	require.True(t, g.closed)
	require.True(t, strings.Contains(stderr.String(), "refused"), stderr.String())
}
