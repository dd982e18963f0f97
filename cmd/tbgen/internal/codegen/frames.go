package codegen

import (
	"slices"

	"github.com/taskbridge-go/taskbridge/cmd/tbgen/internal/spec"
)

type framesData struct {
	fileData
	Tags       []frameTag
	CloseCodes []spec.CloseCode
	Unions     []frameUnion
}

// frameTag is a constant for the value that marks frame schemas.
type frameTag struct {
	Name, Prop, Value string
	Schemas           []string
}

// frameUnion is the Go union of the frames one side sends on one channel.
type frameUnion struct {
	Name, Doc, Prop string
	Members         []frameMember
}

// frameMember is one Go type of a union: a plain frame struct, or a
// discriminated union schema decoded through its variants.
type frameMember struct {
	GoType   string
	Values   []string
	Strict   bool
	Required []string
	Variants []frameVariant
}

type frameVariant struct {
	Value, GoType string
	Strict        bool
	Required      []string
}

// frames builds the frame unions of every channel, both directions.
func (a *analysis) frames(async *spec.AsyncAPI) framesData {
	var d framesData
	tags := map[string]int{} // name -> index in d.Tags
	codes := map[string]int{}
	for _, c := range async.Channels {
		for _, side := range []struct {
			suffix, who string
			frames      []spec.Frame
		}{{"ClientFrame", "the client sends", c.ClientFrames}, {"ServerFrame", "the server sends", c.ServerFrames}} {
			if len(side.frames) == 0 {
				continue
			}
			u := frameUnion{
				Name: spec.GoName(c.Key) + side.suffix,
				Doc:  "a frame " + side.who + " on channel " + c.Key + " (" + c.Address + ")",
			}
			if !a.union(&u, side.frames) {
				continue
			}
			for _, m := range u.Members {
				if m.Variants != nil {
					continue
				}
				name := "Frame" + spec.GoName(u.Prop) + spec.GoName(m.Values[0])
				i, ok := tags[name]
				if !ok {
					i = len(d.Tags)
					tags[name] = i
					d.Tags = append(d.Tags, frameTag{Name: name, Prop: u.Prop, Value: m.Values[0]})
				}
				if !slices.Contains(d.Tags[i].Schemas, m.GoType) {
					d.Tags[i].Schemas = append(d.Tags[i].Schemas, m.GoType)
				}
			}
			d.Unions = append(d.Unions, u)
		}
		for _, cc := range c.CloseCodes {
			if code, dup := codes[cc.Name]; dup {
				if code != cc.Code {
					a.problems = append(a.problems, spec.Problem{File: a.file, Pointer: c.Pointer, Reason: "close code " + cc.Name + " has two different values across channels"})
				}
				continue
			}
			codes[cc.Name] = cc.Code
			d.CloseCodes = append(d.CloseCodes, cc)
		}
	}
	return d
}

// union fills u's members from the frames; all must be told apart by one property.
func (a *analysis) union(u *frameUnion, frames []spec.Frame) bool {
	seen := map[string]string{}
	for _, f := range frames {
		m := frameMember{GoType: goType(f.Schema)}
		prop, vs, isUnion := a.variants(f.Schema)
		if isUnion {
			a.recordUnion(f.Schema)
			for _, v := range vs {
				s := a.schema(v.Schema)
				m.Values = append(m.Values, v.Value)
				m.Variants = append(m.Variants, frameVariant{Value: v.Value, GoType: goType(v.Schema), Strict: strict(s), Required: s.Required})
			}
		} else {
			var value string
			var ok bool
			if prop, value, ok = a.tag(f.Schema); !ok {
				return false
			}
			s := a.schema(f.Schema)
			m.Values, m.Strict, m.Required = []string{value}, strict(s), s.Required
		}
		if u.Prop == "" {
			u.Prop = prop
		}
		if prop != u.Prop {
			a.fail(f.Schema, "frames of %s are told apart by %q, but this one by %q", u.Name, u.Prop, prop)
			return false
		}
		for _, v := range m.Values {
			if other, dup := seen[v]; dup {
				a.fail(f.Schema, "%s %q also marks %s in %s", prop, v, other, u.Name)
				return false
			}
			seen[v] = f.Schema
		}
		u.Members = append(u.Members, m)
	}
	return true
}

// recordUnion notes a union schema used as a frame, once.
func (a *analysis) recordUnion(name string) {
	if !slices.Contains(a.unions, name) {
		a.unions = append(a.unions, name)
	}
}
