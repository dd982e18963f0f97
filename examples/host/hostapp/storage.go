package hostapp

import (
	"log/slog"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/stores/memory"
	"github.com/taskbridge-go/taskbridge/stores/postgres"
)

// openStore opens the store -store names, and returns how to close it. It
// does not wait for a database: a host whose database is down starts, the
// bridge migrates the schema once it is reachable, and /ready says so
// meanwhile.
func openStore(o options, log *slog.Logger) (taskbridge.Store, func(), error) {
	if o.store != "postgres" {
		return memory.New(), func() {}, nil
	}
	pg, err := postgres.Open(postgres.Config{URL: o.postgresURL, Schema: o.postgresSchema, Logger: log})
	if err != nil {
		return nil, nil, err
	}
	return pg, pg.Close, nil
}
