package codegen

import (
	oapi "github.com/oapi-codegen/oapi-codegen/v2/pkg/codegen"
)

type streamingData struct {
	fileData
	Ops []streamOp
}

type streamOp struct {
	Name                    string // the operation's Go name, e.g. StreamTaskEvents
	Method, Path, Transport string
	Channel                 string
	PathParams              []pathParam
	HasParams               bool
}

type pathParam struct {
	Var, Type, Field string
}

// streamingData pairs each streaming operation of the contract with the names
// oapi-codegen gave its handler arguments and request object.
func (g *generator) streamingData(ops []oapi.OperationDefinition) streamingData {
	d := streamingData{fileData: g.base()}
	for _, s := range g.contract.Streams {
		for i := range ops {
			op := &ops[i]
			if op.Method != s.Method || op.Path != s.Path || op.IsAlias {
				continue
			}
			so := streamOp{
				Name: op.OperationId, Method: s.Method, Path: s.Path,
				Transport: s.Transport, Channel: s.Channel.Key,
				HasParams: op.RequiresParamObject(),
			}
			for _, p := range op.PathParams {
				so.PathParams = append(so.PathParams, pathParam{Var: p.GoVariableName(), Type: p.TypeDef(), Field: p.GoName()})
			}
			d.Ops = append(d.Ops, so)
		}
	}
	return d
}
