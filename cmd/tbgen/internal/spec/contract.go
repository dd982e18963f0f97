// Package spec loads the two files of a taskbridge contract, an OpenAPI 3.0 file
// and an AsyncAPI 3 file whose payloads reference the OpenAPI schemas, and checks
// them alone and against each other. Every problem is reported with its file,
// JSON pointer and reason.
package spec

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/getkin/kin-openapi/openapi3"
)

// Files names the files of a contract.
type Files struct {
	// OpenAPI is the OpenAPI 3.0 file.
	OpenAPI string
	// AsyncAPI is the AsyncAPI 3 file; its payloads reference the OpenAPI file.
	AsyncAPI string
}

// Contract is a loaded and checked pair of spec files.
type Contract struct {
	// Files are the files as given.
	Files Files
	// OpenAPI is the validated OpenAPI document. Code generation mutates what it
	// is given, so generators take a fresh copy from FreshOpenAPI.
	OpenAPI *openapi3.T
	// AsyncAPI holds the channels and their frames.
	AsyncAPI *AsyncAPI
	// Streams are the streaming operations of the OpenAPI file with their channels.
	Streams []Stream

	openapiDoc *document
}

// Stream is an OpenAPI operation marked x-taskbridge-stream, with its channel.
type Stream struct {
	OperationID string
	Method      string
	Path        string
	// Transport is "sse" or "websocket".
	Transport string
	Channel   *Channel
}

// FreshOpenAPI parses the OpenAPI file again, for a generator that mutates it.
func (c *Contract) FreshOpenAPI() (*openapi3.T, error) {
	return loadOpenAPI(c.openapiDoc)
}

// Load reads and checks the files; its error is Problems.
func Load(ctx context.Context, files Files) (*Contract, error) {
	oas := &problems{file: files.OpenAPI}
	odoc, err := readOpenAPI(files)
	if err != nil {
		oas.add("", "%v", err)
		return nil, oas.list
	}
	checkLocalRefs(odoc, oas)
	if len(oas.list) > 0 {
		return nil, oas.list
	}
	doc, err := loadOpenAPI(odoc)
	if err != nil {
		oas.add("", "%v", err)
		return nil, oas.list
	}
	validateOpenAPI(ctx, doc, oas)
	if doc.Paths == nil || doc.Paths.Len() == 0 {
		oas.add("/paths", "the spec has no paths")
	}

	aas := &problems{file: files.AsyncAPI}
	adoc, err := readDocument(files.AsyncAPI)
	if err != nil {
		aas.add("", "%v", err)
		return nil, append(oas.list, aas.list...)
	}
	async := (&asyncLoader{doc: adoc, openapi: odoc, ps: aas}).load()
	if all := append(oas.list, aas.list...); len(all) > 0 {
		return nil, all
	}
	c := &Contract{Files: files, OpenAPI: doc, AsyncAPI: async, openapiDoc: odoc}
	c.Streams = matchStreams(doc, async, oas, aas)
	if all := append(oas.list, aas.list...); len(all) > 0 {
		return nil, all
	}
	return c, nil
}

// readOpenAPI reads the OpenAPI file.
func readOpenAPI(files Files) (*document, error) {
	return readDocument(files.OpenAPI)
}

// streamExt is the x-taskbridge-stream extension of an operation.
type streamExt struct {
	Transport                  string
	ClientFrames, ServerFrames []string // component schema names
}

// matchStreams pairs every streaming operation with the channel of its address
// and checks that both files list the same frames for it.
func matchStreams(doc *openapi3.T, async *AsyncAPI, oas, aas *problems) []Stream {
	byAddress := map[string]*Channel{}
	for _, c := range async.Channels {
		byAddress[c.Address] = c
	}
	matched := map[*Channel]bool{}
	var out []Stream
	forEachOperation(doc, func(ptr, path, method string, op *openapi3.Operation) {
		raw, marked := op.Extensions["x-taskbridge-stream"]
		if !marked {
			if streamsWithoutMark(op) {
				oas.add(ptr, "the operation answers 101 or text/event-stream but has no x-taskbridge-stream")
			}
			return
		}
		ext, ok := decodeStreamExt(raw)
		xptr := pointer(ptr, "x-taskbridge-stream")
		if !ok {
			oas.add(xptr, "must be {transport: sse|websocket, clientFrames: [...], serverFrames: [...]} with $refs to component schemas")
			return
		}
		if op.RequestBody != nil {
			oas.add(pointer(ptr, "requestBody"), "a streaming operation cannot have a request body")
		}
		c := byAddress[path]
		if c == nil {
			oas.add(xptr, "no channel of the AsyncAPI file has the address %s", path)
			return
		}
		matched[c] = true
		if (ext.Transport == "websocket") != c.WebSocket {
			oas.add(pointer(xptr, "transport"), "transport %s does not match channel %s, which %s a ws binding", ext.Transport, c.Key, map[bool]string{true: "has", false: "has no"}[c.WebSocket])
		}
		compareFrames(oas, pointer(xptr, "clientFrames"), c, "receive", ext.ClientFrames, c.ClientFrames, doc)
		compareFrames(oas, pointer(xptr, "serverFrames"), c, "send", ext.ServerFrames, c.ServerFrames, doc)
		out = append(out, Stream{OperationID: op.OperationID, Method: method, Path: path, Transport: ext.Transport, Channel: c})
	})
	for _, c := range async.Channels {
		if !matched[c] {
			aas.add(pointer(c.Pointer, "address"), "no OpenAPI operation with x-taskbridge-stream has the address %s", c.Address)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].OperationID < out[j].OperationID })
	return out
}

func decodeStreamExt(raw any) (streamExt, bool) {
	m, ok := raw.(map[string]any)
	if !ok {
		return streamExt{}, false
	}
	var ext streamExt
	ext.Transport, _ = m["transport"].(string)
	if ext.Transport != "sse" && ext.Transport != "websocket" {
		return ext, false
	}
	for key, dst := range map[string]*[]string{"clientFrames": &ext.ClientFrames, "serverFrames": &ext.ServerFrames} {
		if m[key] == nil {
			continue
		}
		list, ok := m[key].([]any)
		if !ok {
			return ext, false
		}
		for _, item := range list {
			name := componentSchemaName(fmt.Sprint(item))
			if name == "" {
				return ext, false
			}
			*dst = append(*dst, name)
		}
	}
	return ext, len(ext.ServerFrames) > 0
}

// compareFrames reports the schemas that one file lists for a direction and the other does not.
func compareFrames(ps *problems, ptr string, c *Channel, action string, declared []string, frames []Frame, doc *openapi3.T) {
	var inChannel []string
	for _, f := range frames {
		inChannel = append(inChannel, f.Schema)
	}
	for _, name := range declared {
		if doc.Components == nil || doc.Components.Schemas[name] == nil {
			ps.add(ptr, "schema %s does not exist", name)
		} else if !slices.Contains(inChannel, name) {
			ps.add(ptr, "schema %s is not a payload of a %s operation of channel %s", name, action, c.Key)
		}
	}
	for _, name := range inChannel {
		if !slices.Contains(declared, name) {
			ps.add(ptr, "channel %s %ss schema %s, which is missing here", c.Key, action, name)
		}
	}
}

func streamsWithoutMark(op *openapi3.Operation) bool {
	if op.Responses == nil {
		return false
	}
	if op.Responses.Value("101") != nil {
		return true
	}
	for _, r := range op.Responses.Map() {
		if r.Value != nil && r.Value.Content.Get("text/event-stream") != nil {
			return true
		}
	}
	return false
}
