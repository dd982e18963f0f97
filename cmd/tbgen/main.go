// Command tbgen generates the Go packages of a taskbridge contract and
// checks that they agree with their specs.
//
// Usage:
//
//	tbgen <command> [flags]
//
// The commands:
//
//	generate   write gen/ from api/openapi.yaml and api/asyncapi.yaml (the default)
//	check      fail when gen/ or a task-type package under . is not what its specs generate
//	lint       validate the two spec files and list every problem
//	tasktypes  write a host's task-type package from its task-type spec
//	help       list the commands; tbgen <command> -h lists a command's flags
//
// generate writes nothing unless generation fully succeeds. check
// regenerates in memory and exits 1 with a diff; it finds every task-type
// package under the current directory by the first line of its doc.gen.go,
// which names the spec it came from. lint lists every problem as
// file#/json/pointer: reason.
//
// A host declares its own task types (input, result, suspensions with
// their actions' payloads) in a task-type spec, an OpenAPI 3.0 document
// with no paths (see package taskspec), and runs
//
//	tbgen tasktypes -spec tasktypes.yaml -out jobs
//
// which writes the package jobs: the models, a Handlers interface with one
// typed method per task type, TaskTypes to hand to a bridge, and the merged
// contract openapi.json (the base API with the host's task types) that the
// bridge enforces and serves and that frontend generators read. The base
// contract comes from the gen package compiled into tbgen: regenerate gen/
// before the task-type packages.
//
// Exit status: 0 on success, 1 on any problem, 2 on a usage error.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/token"
	"io"
	"os"
	"path/filepath"

	"github.com/taskbridge-go/taskbridge/cmd/tbgen/internal/codegen"
	"github.com/taskbridge-go/taskbridge/cmd/tbgen/internal/spec"
	"github.com/taskbridge-go/taskbridge/gen"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// commands are tbgen's commands, in the order help lists them.
var commands = []struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}{
	{"generate", "write gen/ from api/openapi.yaml and api/asyncapi.yaml (the default command)", contractCommand("generate")},
	{"check", "fail when gen/ or a task-type package under . is not what its specs generate", checkCommand},
	{"lint", "validate the two spec files and list every problem", contractCommand("lint")},
	{"tasktypes", "write a host's task-type package (models, Handlers, TaskTypes, openapi.json) from its spec", taskTypesCommand},
	{"help", "list the commands; tbgen <command> -h lists a command's flags", nil},
}

// run is tbgen with its arguments and outputs, returning the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (status int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "tbgen: internal error: %v\n", r)
			status = 1
		}
	}()
	name := "generate"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		name, args = args[0], args[1:]
	} else if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		name = "help"
	}
	for _, c := range commands {
		if c.name != name {
			continue
		}
		if c.run == nil {
			usage(stdout)
			return 0
		}
		return c.run(ctx, args, stdout, stderr)
	}
	fmt.Fprintf(stderr, "tbgen: unknown command %q\n", name)
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "tbgen generates the Go packages of a taskbridge contract and checks them.")
	fmt.Fprintln(w, "\nUsage: tbgen <command> [flags]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
}

// contractFlags are the flags of the commands on the base contract.
type contractFlags struct {
	files    spec.Files
	out, pkg string
}

func parseContractFlags(name string, args []string, stderr io.Writer) (contractFlags, bool) {
	var f contractFlags
	fs := flag.NewFlagSet("tbgen "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.files.OpenAPI, "openapi", "api/openapi.yaml", "the OpenAPI 3.0 file")
	fs.StringVar(&f.files.AsyncAPI, "asyncapi", "api/asyncapi.yaml", "the AsyncAPI 3 file; its payloads reference the OpenAPI schemas")
	fs.StringVar(&f.out, "out", "gen", "the directory of the generated package")
	fs.StringVar(&f.pkg, "package", "gen", "the name of the generated package")
	if fs.Parse(args) != nil {
		return f, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "tbgen: unexpected argument %q\n", fs.Arg(0))
		return f, false
	}
	if !token.IsIdentifier(f.pkg) {
		fmt.Fprintf(stderr, "tbgen: -package %q is not a Go package name\n", f.pkg)
		return f, false
	}
	return f, true
}

// generateContract loads the two spec files and renders the package.
func generateContract(ctx context.Context, f contractFlags) ([]codegen.File, error) {
	contract, err := spec.Load(ctx, f.files)
	if err != nil {
		return nil, err
	}
	// Generation also finds problems (frames that cannot be told apart,
	// event variants that differ), so lint generates in memory too.
	return codegen.Generate(contract, codegen.Options{PackageName: f.pkg})
}

// contractCommand is generate or lint.
func contractCommand(name string) func(context.Context, []string, io.Writer, io.Writer) int {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		f, ok := parseContractFlags(name, args, stderr)
		if !ok {
			return 2
		}
		generated, err := generateContract(ctx, f)
		if err != nil {
			return report(stderr, err)
		}
		if name == "lint" {
			fmt.Fprintf(stdout, "%s and %s: no problems\n", f.files.OpenAPI, f.files.AsyncAPI)
			return 0
		}
		if err := codegen.Write(f.out, generated); err != nil {
			return report(stderr, err)
		}
		fmt.Fprintf(stdout, "wrote %d files to %s\n", len(generated), f.out)
		return 0
	}
}

// checkCommand checks the base package and every task-type package below
// the current directory.
func checkCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, ok := parseContractFlags("check", args, stderr)
	if !ok {
		return 2
	}
	generated, err := generateContract(ctx, f)
	if err != nil {
		return report(stderr, err)
	}
	stale := false
	check := func(dir, from string, files []codegen.File) error {
		diff, err := codegen.Diff(dir, files)
		if err != nil {
			return err
		}
		if diff != "" {
			stale = true
			fmt.Fprintf(stderr, "%s is not what %s generates; regenerate it:\n%s", dir, from, diff)
			return nil
		}
		fmt.Fprintf(stdout, "%s is up to date with %s\n", dir, from)
		return nil
	}
	if err := check(f.out, f.files.OpenAPI+" and "+f.files.AsyncAPI, generated); err != nil {
		return report(stderr, err)
	}
	packages, err := findTaskTypePackages(".")
	if err != nil {
		return report(stderr, err)
	}
	for _, p := range packages {
		files, err := generateTaskTypes(ctx, p)
		if err == nil {
			err = check(p.dir, p.spec, files)
		}
		if err != nil {
			return report(stderr, err)
		}
	}
	if stale {
		return 1
	}
	return 0
}

// taskTypesCommand writes one task-type package.
func taskTypesCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tbgen tasktypes", flag.ContinueOnError)
	fs.SetOutput(stderr)
	specFile := fs.String("spec", "", "the task-type spec (YAML or JSON); required")
	out := fs.String("out", "", "the directory of the generated package; required")
	pkg := fs.String("package", "", "the name of the generated package; default the base name of -out")
	if fs.Parse(args) != nil {
		return 2
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "tbgen: unexpected argument %q\n", fs.Arg(0))
		return 2
	case *specFile == "" || *out == "":
		fmt.Fprintln(stderr, "tbgen tasktypes: -spec and -out are required")
		return 2
	}
	p := taskTypePackage{dir: *out, spec: *specFile, pkg: *pkg}
	if p.pkg == "" {
		abs, err := filepath.Abs(*out)
		if err != nil {
			return report(stderr, err)
		}
		p.pkg = filepath.Base(abs)
	}
	if !token.IsIdentifier(p.pkg) {
		fmt.Fprintf(stderr, "tbgen: package name %q is not a Go identifier; give -package\n", p.pkg)
		return 2
	}
	files, err := generateTaskTypes(ctx, p)
	if err != nil {
		return report(stderr, err)
	}
	if err := codegen.Write(p.dir, files); err != nil {
		return report(stderr, err)
	}
	fmt.Fprintf(stdout, "wrote %d files to %s\n", len(files), p.dir)
	return 0
}

// generateTaskTypes loads a task-type spec, merges it with the base
// contract compiled into tbgen, and renders its package.
func generateTaskTypes(ctx context.Context, p taskTypePackage) ([]codegen.File, error) {
	base, err := baseContract()
	if err != nil {
		return nil, err
	}
	t, err := spec.LoadTaskTypes(ctx, p.spec, base)
	if err != nil {
		return nil, err
	}
	rel, err := relative(p.dir, p.spec)
	if err != nil {
		return nil, err
	}
	return codegen.GenerateTaskTypes(t, codegen.TaskTypesOptions{PackageName: p.pkg, SpecPath: filepath.ToSlash(rel)})
}

// relative is the path of target from dir.
func relative(dir, target string) (string, error) {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	absTarget, err := filepath.Abs(target)
	if err != nil {
		return "", err
	}
	return filepath.Rel(absDir, absTarget)
}

// baseContract is the base contract as JSON, as the gen package embeds it.
func baseContract() ([]byte, error) {
	doc, err := gen.GetSwagger()
	if err != nil {
		return nil, fmt.Errorf("the base contract embedded in gen: %w", err)
	}
	return json.Marshal(doc)
}

// report prints an error, one problem a line, and returns exit status 1.
func report(w io.Writer, err error) int {
	var problems spec.Problems
	if errors.As(err, &problems) {
		for _, p := range problems {
			fmt.Fprintln(w, p)
		}
		fmt.Fprintf(w, "tbgen: %d problem(s)\n", len(problems))
		return 1
	}
	fmt.Fprintf(w, "tbgen: %v\n", err)
	return 1
}
