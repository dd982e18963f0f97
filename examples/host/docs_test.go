package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// jsonBlocks returns the ```json blocks of a Markdown file.
func jsonBlocks(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var blocks []string
	for _, part := range strings.Split(string(b), "```json\n")[1:] {
		block, _, found := strings.Cut(part, "```")
		require.True(t, found, "an unclosed block in %s", path)
		blocks = append(blocks, block)
	}
	return blocks
}

// The scripts README.md shows are scripts the host takes: the whole
// example, and each example step on its own.
func TestReadmeScriptsAreValid(t *testing.T) {
	t.Parallel()
	blocks := jsonBlocks(t, "README.md")
	require.Len(t, blocks, 2, "README.md: the whole script, then one example per step kind")
	h := startHost(t)

	var create map[string]any
	require.NoError(t, json.Unmarshal([]byte(blocks[0]), &create))
	r := h.doJSON(t, http.MethodPost, "/api/v1/tasks", "docs", create)
	require.Equal(t, http.StatusCreated, r.status, "the README's script: %s", r.body)

	kinds := map[string]bool{}
	dec := json.NewDecoder(strings.NewReader(blocks[1]))
	for i := 0; ; i++ {
		var step map[string]any
		err := dec.Decode(&step)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		for kind := range step {
			kinds[kind] = true
		}
		body, err := json.Marshal(map[string]any{"clientRequestId": fmt.Sprint("step-", i), "taskType": "scripted",
			"input": map[string]any{"steps": []any{step}}})
		require.NoError(t, err)
		r := h.do(t, http.MethodPost, "/api/v1/tasks", "docs", "application/json", bytes.NewReader(body))
		require.Equal(t, http.StatusCreated, r.status, "the README's step %v: %s", step, r.body)
	}
	require.Equal(t, map[string]bool{"sleepMs": true, "progress": true, "message": true, "ticks": true,
		"suspend": true, "complete": true, "fail": true}, kinds, "an example of every step kind")
}
