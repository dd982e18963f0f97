package services

import (
	"context"
	"path"

	"github.com/taskbridge-go/taskbridge"
)

// OwnerOnly is the default OwnershipPolicy: anyone authenticated may create
// any task type, and a task is visible only to the subject that created it.
type OwnerOnly struct{}

var _ taskbridge.OwnershipPolicy = OwnerOnly{}

// CanCreate allows every caller.
func (OwnerOnly) CanCreate(context.Context, taskbridge.Principal, string) error { return nil }

// CanAccess allows the task's owner only.
func (OwnerOnly) CanAccess(_ context.Context, p taskbridge.Principal, t taskbridge.Task) bool {
	return p.Subject != "" && p.Subject == t.Owner
}

// Default upload limits, used for every zero field of UploadLimits.
const (
	DefaultMaxFileBytes  = 10 << 20
	DefaultMaxTotalBytes = 25 << 20
	DefaultMaxFiles      = 10
)

// StaticUploads is an UploadPolicy giving every caller the same limits; a
// zero field is its default (DefaultMaxFileBytes, DefaultMaxTotalBytes,
// DefaultMaxFiles, any content type).
type StaticUploads taskbridge.UploadLimits

var _ taskbridge.UploadPolicy = StaticUploads{}

// Limits returns the limits.
func (s StaticUploads) Limits(context.Context, taskbridge.Principal) taskbridge.UploadLimits {
	return withUploadDefaults(taskbridge.UploadLimits(s))
}

func withUploadDefaults(l taskbridge.UploadLimits) taskbridge.UploadLimits {
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = DefaultMaxFileBytes
	}
	if l.MaxTotalBytes <= 0 {
		l.MaxTotalBytes = DefaultMaxTotalBytes
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultMaxFiles
	}
	return l
}

// contentTypeAllowed reports whether the media type is one of allowed
// ("image/*" matches every image type); an empty list allows any.
func contentTypeAllowed(allowed []string, mediaType string) bool {
	if len(allowed) == 0 {
		return true
	}
	for _, pattern := range allowed {
		if ok, _ := path.Match(pattern, mediaType); ok {
			return true
		}
	}
	return false
}
