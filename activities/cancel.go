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

// abortUploads aborts every multipart upload in progress to key at dst,
// with a context of its own since the activity's may be cancelled. Shards
// never share a key, so the uploads of the key are this copy's: a cancelled
// job, or an object that failed for good, leaves no parts behind to be
// billed.
func abortUploads(ctx context.Context, dst storage.Store, key string, log *slog.Logger) error {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	ups, err := dst.ListUploads(actx, key)
	if err != nil {
		return fmt.Errorf("list uploads of %q: %w", key, err)
	}
	var errs []error
	for _, u := range ups {
		if u.Key != key {
			continue
		}
		if err := dst.AbortMultipart(actx, u.Key, u.UploadID); err != nil && !storage.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("abort upload %s of %q: %w", u.UploadID, key, err))
			continue
		}
		log.Info("aborted a multipart upload", "uploadId", u.UploadID)
	}
	return errors.Join(errs...)
}
