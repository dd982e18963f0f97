package taskbridge

import "context"

// reportKey is the context key of WithReportKey.
type reportKey struct{}

// WithReportKey returns ctx carrying an idempotency key for the one report
// a Reporter makes with it: the report's append carries the key
// (Append.Key), so a report repeated with the same key stores its event
// once and the repeat changes nothing, also after the task ended. An
// executor whose reports may be retried from outside (a durable engine's
// activities, say) derives the key from something its retries share,
// such as its run's id and the report's number in it. Keys are unique per
// task.
func WithReportKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, reportKey{}, key)
}

// ReportKey returns the key WithReportKey put in ctx, or "".
func ReportKey(ctx context.Context) string {
	key, _ := ctx.Value(reportKey{}).(string)
	return key
}
