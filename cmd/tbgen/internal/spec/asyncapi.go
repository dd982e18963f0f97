package spec

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
)

// AsyncAPI is what tbgen reads from the AsyncAPI file: its channels and the
// frames that travel on each, by the OpenAPI schema of their payload.
type AsyncAPI struct {
	// Channels in the order of their keys.
	Channels []*Channel
}

// Channel is one AsyncAPI channel.
type Channel struct {
	// Key is the channel's key under "channels".
	Key string
	// Address is the HTTP path of the channel; it matches a streaming OpenAPI operation.
	Address string
	// WebSocket is true when the channel has a ws binding; otherwise it is SSE.
	WebSocket bool
	// ClientFrames are the messages of its receive operations (client to server).
	ClientFrames []Frame
	// ServerFrames are the messages of its send operations (server to client).
	ServerFrames []Frame
	// CloseCodes are the WebSocket close codes of x-taskbridge-close-codes.
	CloseCodes []CloseCode
	// Pointer locates the channel in the AsyncAPI file.
	Pointer string

	schemas map[string]string // message key -> payload schema, for valid messages
}

// Frame is one message of a channel.
type Frame struct {
	// Message is the message's key in the channel.
	Message string
	// Schema is the name of the OpenAPI component schema of its payload.
	Schema string
	// Pointer locates the message in the AsyncAPI file.
	Pointer string
}

// CloseCode is a WebSocket close code the server uses on a channel.
type CloseCode struct {
	Code        int
	Name        string
	Description string
}

var goIdent = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)

// asyncLoader reads an AsyncAPI 3 document whose payloads live in the OpenAPI document.
type asyncLoader struct {
	doc     *document
	openapi *document
	ps      *problems
}

// load checks the document and extracts its channels; problems go to l.ps.
func (l *asyncLoader) load() *AsyncAPI {
	root := l.doc.root
	if v, _ := root["asyncapi"].(string); !strings.HasPrefix(v, "3.") {
		l.ps.add("/asyncapi", "asyncapi version must be 3.x, found %v", root["asyncapi"])
	}
	info, ok := root["info"].(map[string]any)
	if !ok {
		l.ps.add("/info", "info is required")
	} else {
		for _, f := range []string{"title", "version"} {
			if s, _ := info[f].(string); s == "" {
				l.ps.add(pointer("/info", f), "info.%s is required", f)
			}
		}
	}
	l.checkRefs()
	if len(l.ps.list) > 0 {
		return nil
	}
	channels := l.channels()
	l.operations(channels)
	out := &AsyncAPI{}
	for _, key := range sortedKeys(channels) {
		c := channels[key]
		if len(c.ClientFrames)+len(c.ServerFrames) == 0 {
			l.ps.add(c.Pointer, "no operation sends or receives on this channel")
		}
		out.Channels = append(out.Channels, c)
	}
	return out
}

// checkRefs reports every $ref that does not resolve; references may point into
// this document or at component schemas of the OpenAPI document.
func (l *asyncLoader) checkRefs() {
	walkRefs(l.doc.root, "", func(holder, ref string) {
		at := pointer(holder, "$ref")
		file, ptr := splitRef(l.doc.path, ref)
		switch {
		case file == "":
			if _, ok := l.doc.lookup(ptr); !ok {
				l.ps.add(at, "reference %q points at nothing", ref)
			}
		case !sameFile(file, l.openapi.path):
			l.ps.add(at, "reference %q names a file other than the OpenAPI file %s", ref, filepath.Base(l.openapi.path))
		case componentSchemaName("#"+ptr) == "":
			l.ps.add(at, "reference %q must name a schema under #/components/schemas of the OpenAPI file", ref)
		default:
			if _, ok := l.openapi.lookup(ptr); !ok {
				l.ps.add(at, "reference %q points at nothing in %s", ref, filepath.Base(l.openapi.path))
			}
		}
	})
}

// resolve follows local $refs from node until a node without one (at most
// 16 hops, so that a reference cycle ends).
func (l *asyncLoader) resolve(node any) any {
	for range 16 {
		m, ok := node.(map[string]any)
		if !ok {
			break
		}
		ref, ok := m["$ref"].(string)
		if !ok || !strings.HasPrefix(ref, "#") {
			break
		}
		node, _ = l.doc.lookup(ref[1:])
	}
	return node
}

func (l *asyncLoader) channels() map[string]*Channel {
	all, ok := l.doc.root["channels"].(map[string]any)
	if !ok || len(all) == 0 {
		l.ps.add("/channels", "channels are required: at least one")
		return nil
	}
	out := map[string]*Channel{}
	for _, key := range sortedKeys(all) {
		ptr := pointer("/channels", key)
		node := l.resolve(all[key])
		m, ok := node.(map[string]any)
		if !ok {
			l.ps.add(ptr, "a channel must be a mapping")
			continue
		}
		c := &Channel{Key: key, Pointer: ptr, schemas: map[string]string{}}
		c.Address, _ = m["address"].(string)
		if !strings.HasPrefix(c.Address, "/") {
			l.ps.add(pointer(ptr, "address"), "address is required and must be an HTTP path starting with /")
		}
		if b, ok := m["bindings"].(map[string]any); ok {
			_, c.WebSocket = b["ws"]
		}
		c.CloseCodes = l.closeCodes(pointer(ptr, "x-taskbridge-close-codes"), m["x-taskbridge-close-codes"])
		if msgs, ok := m["messages"].(map[string]any); !ok || len(msgs) == 0 {
			l.ps.add(pointer(ptr, "messages"), "messages are required: at least one")
		} else {
			for _, name := range sortedKeys(msgs) {
				if schema, ok := l.message(pointer(ptr, "messages", name), msgs[name]); ok {
					c.schemas[name] = schema
				}
			}
		}
		out[key] = c
	}
	return out
}

// message returns the OpenAPI schema name of a message's payload.
func (l *asyncLoader) message(ptr string, node any) (string, bool) {
	node = l.resolve(node)
	m, ok := node.(map[string]any)
	if !ok {
		l.ps.add(ptr, "a message must be a mapping")
		return "", false
	}
	payload, ok := m["payload"].(map[string]any)
	if !ok {
		l.ps.add(pointer(ptr, "payload"), "payload is required")
		return "", false
	}
	format, _ := payload["schemaFormat"].(string)
	if !strings.HasPrefix(format, "application/vnd.oai.openapi") {
		l.ps.add(pointer(ptr, "payload"), "payload must be a multi-format schema with schemaFormat application/vnd.oai.openapi;version=3.0.0 whose schema references the OpenAPI file")
		return "", false
	}
	schema, _ := payload["schema"].(map[string]any)
	ref, _ := schema["$ref"].(string)
	file, p := splitRef(l.doc.path, ref)
	name := componentSchemaName("#" + p)
	if file == "" || name == "" {
		l.ps.add(pointer(ptr, "payload", "schema"), "the payload schema must be a $ref to #/components/schemas/... of the OpenAPI file, so that it is defined once")
		return "", false
	}
	return name, true
}

func (l *asyncLoader) closeCodes(ptr string, node any) []CloseCode {
	if node == nil {
		return nil
	}
	list, ok := node.([]any)
	if !ok {
		l.ps.add(ptr, "must be a list of {code, name, description}")
		return nil
	}
	var out []CloseCode
	for i, item := range list {
		p := pointer(ptr, fmt.Sprint(i))
		m, _ := item.(map[string]any)
		code, _ := m["code"].(int)
		name, _ := m["name"].(string)
		desc, _ := m["description"].(string)
		if code < 1000 || code > 4999 {
			l.ps.add(pointer(p, "code"), "code must be a WebSocket close code (1000-4999)")
			continue
		}
		if !goIdent.MatchString(name) {
			l.ps.add(pointer(p, "name"), "name %q must be an exported Go identifier such as NormalClosure", name)
			continue
		}
		out = append(out, CloseCode{Code: code, Name: name, Description: desc})
	}
	return out
}

// operations reads the operations and files their messages as the frames of their channels.
func (l *asyncLoader) operations(channels map[string]*Channel) {
	all, ok := l.doc.root["operations"].(map[string]any)
	if !ok || len(all) == 0 {
		l.ps.add("/operations", "operations are required: they say which side sends each message")
		return
	}
	for _, key := range sortedKeys(all) {
		ptr := pointer("/operations", key)
		m, ok := all[key].(map[string]any)
		if !ok {
			l.ps.add(ptr, "an operation must be a mapping")
			continue
		}
		action, _ := m["action"].(string)
		if action != "send" && action != "receive" {
			l.ps.add(pointer(ptr, "action"), "action must be send or receive")
			continue
		}
		chKey, ok := strings.CutPrefix(refOf(m["channel"]), "#/channels/")
		c := channels[unescapeToken(chKey)]
		if !ok || strings.Contains(chKey, "/") || c == nil {
			l.ps.add(pointer(ptr, "channel"), "channel must be a $ref to #/channels/<key>")
			continue
		}
		frames := l.operationFrames(ptr, c, m["messages"])
		if action == "send" {
			c.ServerFrames = appendFrames(c.ServerFrames, frames)
		} else {
			c.ClientFrames = appendFrames(c.ClientFrames, frames)
		}
	}
}

func (l *asyncLoader) operationFrames(ptr string, c *Channel, node any) []Frame {
	var names []string
	if node == nil {
		names = sortedKeys(c.schemas)
	} else {
		list, ok := node.([]any)
		if !ok {
			l.ps.add(pointer(ptr, "messages"), "messages must be a list of $refs to messages of the channel")
			return nil
		}
		for i, item := range list {
			name, ok := strings.CutPrefix(refOf(item), "#/channels/"+c.Key+"/messages/")
			name = unescapeToken(name)
			if _, known := c.schemas[name]; !ok || !known {
				l.ps.add(pointer(ptr, "messages", fmt.Sprint(i)), "must be a $ref to a message of channel %s", c.Key)
				continue
			}
			names = append(names, name)
		}
	}
	out := make([]Frame, 0, len(names))
	for _, name := range names {
		out = append(out, Frame{Message: name, Schema: c.schemas[name], Pointer: pointer(c.Pointer, "messages", name)})
	}
	return out
}

// refOf returns the $ref of a {$ref: ...} node, or "" for anything else.
func refOf(node any) string {
	m, _ := node.(map[string]any)
	ref, _ := m["$ref"].(string)
	return ref
}

func appendFrames(list, more []Frame) []Frame {
	for _, f := range more {
		dup := false
		for _, g := range list {
			dup = dup || g.Message == f.Message
		}
		if !dup {
			list = append(list, f)
		}
	}
	return list
}

func sameFile(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}
