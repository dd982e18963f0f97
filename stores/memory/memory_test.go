package memory_test

import (
	"testing"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/stores/memory"
	"github.com/taskbridge-go/taskbridge/stores/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) taskbridge.Store { return memory.New() }, storetest.Features{})
}
