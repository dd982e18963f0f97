// Package protocoltest finds the TaskBridge protocol v1 reference fixtures
// (schemas and example messages) that the compatibility tests read. They are
// not part of the repository: they live beside it, in ../shared/protocol, or
// wherever TASKBRIDGE_PROTOCOL_DIR names.
//
// Without them a test that needs them skips, unless CI is set: CI must run
// every compatibility test, so there it fails instead.
package protocoltest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// EnvDir names the environment variable that may name the fixtures'
// directory.
const EnvDir = "TASKBRIDGE_PROTOCOL_DIR"

// module is the repository's module path, which marks its root.
const module = "github.com/taskbridge-go/taskbridge"

// Lookup returns the fixtures' directory: EnvDir, or shared/protocol beside
// the repository's root (found from the working directory up).
func Lookup() (string, bool) {
	if dir := os.Getenv(EnvDir); dir != "" {
		return dir, present(dir)
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if isRoot(dir) {
			d := filepath.Join(filepath.Dir(dir), "shared", "protocol")
			return d, present(d)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// Dir returns the fixtures' directory, or skips t (fails it in CI).
func Dir(t testing.TB) string {
	t.Helper()
	dir, ok := Lookup()
	if !ok {
		Missing(t)
	}
	return dir
}

// Missing skips t, or fails it in CI, for want of the fixtures.
func Missing(t testing.TB) {
	t.Helper()
	const where = "the TaskBridge protocol v1 reference fixtures are not beside the repository (../shared/protocol) and " + EnvDir + " names none"
	if os.Getenv("CI") != "" {
		t.Fatal(where + "; CI must run the compatibility tests")
	}
	t.Skip(where + ": set " + EnvDir + " to a copy of them to run this test")
}

func present(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "schemas", "task_event.schema.json"))
	return err == nil
}

// isRoot reports whether dir holds the repository's root go.mod.
func isRoot(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	first, _, _ := strings.Cut(string(data), "\n")
	return strings.TrimSpace(first) == "module "+module
}
