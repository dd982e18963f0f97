// Package customspec shows a host extending the taskbridge contract with its
// own task type: overlay.yaml adds a typed input (ThumbnailInput) and result
// (ThumbnailResult) to api/openapi.yaml, and tbgen generates the package
// thumbgen from the extended contract. Nothing of the base specs is copied.
//
// Regenerate from the repository root with:
//
//	go run ./cmd/tbgen generate -overlay examples/custom-spec/overlay.yaml -out examples/custom-spec/thumbgen -package thumbgen
package customspec

//go:generate go run ../../cmd/tbgen generate -openapi ../../api/openapi.yaml -asyncapi ../../api/asyncapi.yaml -overlay overlay.yaml -out thumbgen -package thumbgen
