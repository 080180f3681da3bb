package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/bucketferry/bucketferry/storage"
)

// abortTimeout bounds the clean-up of a cancelled copy.
const abortTimeout = 30 * time.Second

// abandoned reports whether the activity was stopped because the job no
// longer wants its copy: the workflow cancelled it (delivered with a
// heartbeat) or is gone. A worker shutting down or a timeout is not that:
// a retry on another worker resumes the upload from its checkpoint.
func abandoned(ctx context.Context) bool {
	if !activity.IsActivity(ctx) || !errors.Is(ctx.Err(), context.Canceled) {
		return false
	}
	cause := context.Cause(ctx)
	var nf *serviceerror.NotFound
	return temporal.IsCanceledError(cause) || errors.As(cause, &nf)
}

// abortUploads aborts the multipart uploads to key at dst that this copy
// initiated (ids, kept in its heartbeat details), with a context of its
// own since the activity's may be cancelled: a cancelled job, or an object
// that failed for good, leaves no parts of its own behind to be billed.
// Other uploads of the key are never touched: another job, a sync beside a
// scheduled one, or an application may be writing it.
func abortUploads(ctx context.Context, dst storage.Store, key string, ids []string, log *slog.Logger) error {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	var errs []error
	for _, id := range ids {
		if err := dst.AbortMultipart(actx, key, id); err != nil {
			if !storage.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("abort upload %s of %q: %w", id, key, err))
			}
			continue
		}
		log.Info("aborted a multipart upload", "uploadId", id)
	}
	return errors.Join(errs...)
}
