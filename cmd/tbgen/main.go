// Command tbgen generates the Go package of a taskbridge contract from its two
// spec files, and checks that the package and the specs agree.
//
// Usage:
//
//	tbgen [generate|check|lint] [-openapi api/openapi.yaml] [-overlay file] [-asyncapi api/asyncapi.yaml] [-out gen] [-package gen]
//
// generate (the default) validates both specs and writes the package; nothing
// is written unless generation fully succeeds. check regenerates in memory and
// exits 1 with a diff when the package on disk differs, or when the specs
// disagree with each other. lint validates both specs and lists every problem
// as file#/json/pointer: reason.
//
// A host extends the contract without copying it by passing an OpenAPI
// Overlay (-overlay) that adds its own task types, schemas or paths; the
// AsyncAPI file's references then resolve into the overlaid document.
//
// Exit status: 0 on success, 1 on any problem, 2 on a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"go/token"
	"io"
	"os"

	"github.com/taskbridge-go/taskbridge/cmd/tbgen/internal/codegen"
	"github.com/taskbridge-go/taskbridge/cmd/tbgen/internal/spec"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run is tbgen with its arguments and outputs, returning the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (status int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "tbgen: internal error: %v\n", r)
			status = 1
		}
	}()
	cmd := "generate"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	if cmd != "generate" && cmd != "check" && cmd != "lint" {
		fmt.Fprintf(stderr, "tbgen: unknown command %q (want generate, check or lint)\n", cmd)
		return 2
	}
	fs := flag.NewFlagSet("tbgen "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var files spec.Files
	fs.StringVar(&files.OpenAPI, "openapi", "api/openapi.yaml", "the OpenAPI 3.0 file")
	fs.StringVar(&files.Overlay, "overlay", "", "an OpenAPI Overlay applied to the OpenAPI file before anything else")
	fs.StringVar(&files.AsyncAPI, "asyncapi", "api/asyncapi.yaml", "the AsyncAPI 3 file; its payloads reference the OpenAPI schemas")
	out := fs.String("out", "gen", "the directory of the generated package")
	pkg := fs.String("package", "gen", "the name of the generated package")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "tbgen: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if !token.IsIdentifier(*pkg) {
		fmt.Fprintf(stderr, "tbgen: -package %q is not a Go package name\n", *pkg)
		return 2
	}
	contract, err := spec.Load(ctx, files)
	if err != nil {
		return report(stderr, err)
	}
	// Generation also finds problems (frames that cannot be told apart, event
	// variants that differ), so lint generates in memory too.
	generated, err := codegen.Generate(contract, codegen.Options{PackageName: *pkg})
	if err != nil {
		return report(stderr, err)
	}
	switch cmd {
	case "lint":
		fmt.Fprintf(stdout, "%s and %s: no problems\n", files.OpenAPI, files.AsyncAPI)
	case "generate":
		if err := codegen.Write(*out, generated); err != nil {
			return report(stderr, err)
		}
		fmt.Fprintf(stdout, "wrote %d files to %s\n", len(generated), *out)
	case "check":
		diff, err := codegen.Diff(*out, generated)
		if err != nil {
			return report(stderr, err)
		}
		if diff != "" {
			fmt.Fprintf(stderr, "%s is not what the specs generate; run tbgen generate:\n%s", *out, diff)
			return 1
		}
		fmt.Fprintf(stdout, "%s is up to date with %s and %s\n", *out, files.OpenAPI, files.AsyncAPI)
	}
	return 0
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
