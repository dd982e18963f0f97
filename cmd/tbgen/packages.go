package main

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/taskbridge-go/taskbridge/cmd/tbgen/internal/codegen"
)

// taskTypePackage is a task-type package: where it is, the spec it comes
// from and its name.
type taskTypePackage struct {
	dir, spec, pkg string
}

// findTaskTypePackages finds every task-type package under root by its
// doc.gen.go, whose first line names its spec relative to the package.
// Hidden directories, node_modules, vendor and testdata are skipped.
func findTaskTypePackages(root string) ([]taskTypePackage, error) {
	var found []taskTypePackage
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "vendor" || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() != "doc.gen.go" {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if p, ok := parseDocFile(data); ok {
			dir := filepath.Dir(path)
			p.dir, p.spec = dir, filepath.Join(dir, p.spec)
			found = append(found, p)
		}
		return nil
	})
	return found, err
}

// parseDocFile reads the spec (as the header names it) and the package of
// a task-type package's doc.gen.go.
func parseDocFile(data []byte) (taskTypePackage, bool) {
	var p taskTypePackage
	sc := bufio.NewScanner(bytes.NewReader(data))
	if !sc.Scan() {
		return p, false
	}
	rest, ok := strings.CutPrefix(sc.Text(), codegen.TaskTypesHeaderPrefix)
	if !ok {
		return p, false
	}
	if p.spec, ok = strings.CutSuffix(rest, ". DO NOT EDIT."); !ok || p.spec == "" {
		return p, false
	}
	for sc.Scan() {
		if name, ok := strings.CutPrefix(sc.Text(), "package "); ok {
			p.pkg = strings.TrimSpace(name)
			return p, true
		}
	}
	return p, false
}
