package codegen

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
)

// generatedSuffix marks the files a generated package owns: tbgen writes them,
// and removes the ones it no longer generates.
const generatedSuffix = ".gen.go"

// Write puts files into dir, creating it if needed, and removes the *.gen.go
// files of dir that are not among them. Each file is written to a temporary
// name and renamed, so a failure never leaves a half-written file.
func Write(dir string, files []File) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		if err := writeFile(filepath.Join(dir, f.Name), f.Content); err != nil {
			return err
		}
	}
	stale, err := staleFiles(dir, files)
	if err != nil {
		return err
	}
	for _, name := range stale {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path string, content []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(content)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr, os.Chmod(tmp.Name(), 0o644)); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}

// staleFiles lists the *.gen.go files of dir that files does not contain.
func staleFiles(dir string, files []File) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	var stale []string
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() && strings.HasSuffix(name, generatedSuffix) &&
			!slices.ContainsFunc(files, func(f File) bool { return f.Name == name }) {
			stale = append(stale, name)
		}
	}
	return stale, nil
}

// maxDiffLines caps the diff shown for one file.
const maxDiffLines = 120

// Diff compares files with what dir holds and describes every difference as a
// unified diff (from dir to files); "" means dir is up to date.
func Diff(dir string, files []File) (string, error) {
	var out strings.Builder
	for _, f := range files {
		path := filepath.Join(dir, f.Name)
		have, err := os.ReadFile(path)
		if os.IsNotExist(err) {
			fmt.Fprintf(&out, "%s: missing; the specs generate it\n", path)
			continue
		}
		if err != nil {
			return "", err
		}
		if bytes.Equal(have, f.Content) {
			continue
		}
		diff, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
			A: difflib.SplitLines(string(have)), B: difflib.SplitLines(string(f.Content)),
			FromFile: path + " (on disk)", ToFile: path + " (from the specs)", Context: 3,
		})
		if err != nil {
			return "", err
		}
		lines := strings.SplitAfter(diff, "\n")
		if len(lines) > maxDiffLines {
			lines = append(lines[:maxDiffLines], fmt.Sprintf("... %d more diff lines\n", len(lines)-maxDiffLines))
		}
		out.WriteString(strings.Join(lines, ""))
	}
	stale, err := staleFiles(dir, files)
	if err != nil {
		return "", err
	}
	for _, name := range stale {
		fmt.Fprintf(&out, "%s: the specs no longer generate it\n", filepath.Join(dir, name))
	}
	return out.String(), nil
}
