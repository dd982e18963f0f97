package main

import (
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge/examples/host/hostapp"
)

func TestTemporalFlags(t *testing.T) {
	t.Setenv("TASKBRIDGE_TEMPORAL_ADDRESS", "") // as unset: the flag is required
	t.Setenv("TASKBRIDGE_EXECUTOR", "local")
	var help bytes.Buffer
	require.Equal(t, 0, hostapp.Main(t.Context(), []string{"-h"}, io.Discard, &help, nil, hostapp.WithExecutor(temporalExecutor())))
	for _, want := range []string{"what runs the tasks: local or temporal", "\n  temporal  the tasks run as Temporal workflows",
		"\n  -temporal-address string\n", "\n  -temporal-namespace string\n", "\n  -temporal-task-queue string\n",
		"\n  -temporal-worker\n", "\n  -temporal-reconcile-interval duration\n", "\n  -temporal-report-timeout duration\n",
		"\n  TASKBRIDGE_TEMPORAL_ADDRESS", "\n  TASKBRIDGE_TEMPORAL_WORKER"} {
		require.Contains(t, help.String(), want)
	}

	var stderr bytes.Buffer
	require.Equal(t, 2, hostapp.Main(t.Context(), []string{"-executor", "temporal"}, io.Discard, &stderr, nil, hostapp.WithExecutor(temporalExecutor())))
	require.Contains(t, stderr.String(), "-executor temporal needs -temporal-address")
}
