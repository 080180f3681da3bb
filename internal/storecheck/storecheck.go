// Package storecheck probes a job's stores and words what their answers mean
// for the job. The Plan activity and the dry run both use it, so that a dry
// run refuses the same stores, with the same messages and suggested fixes,
// as the job it previews would.
package storecheck

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/bucketferry/bucketferry/storage"
)

// Role names a store of a job for messages: its part in the job and its
// name in the configuration.
type Role struct {
	What string // "source", "destination", "failure log", "manifest"
	Name string // store name in the configuration
}

func (r Role) String() string { return fmt.Sprintf("%s store %q", r.What, r.Name) }

// Remedy says what a person can do about a store-level error.
func Remedy(r Role, err error) string {
	switch storage.KindOf(err) {
	case storage.KindAccessDenied:
		return fmt.Sprintf("check the credentials configured for store %q on the workers and that they may use the bucket", r.Name)
	case storage.KindNoSuchBucket:
		return fmt.Sprintf("check the bucket name, region and endpoint configured for store %q; the bucket must exist", r.Name)
	case storage.KindForbidden:
		return fmt.Sprintf("grant the credentials of store %q the permission this job needs (list, read or write)", r.Name)
	}
	return fmt.Sprintf("check the configuration of store %q", r.Name)
}

// UnusableError is a store the job cannot use: retrying will not help, a
// person must fix the configuration or the bucket. Its message names the
// store and the fix.
type UnusableError struct {
	Role  Role
	Store string // the store's Name()
	Err   error
}

func (e *UnusableError) Error() string {
	return fmt.Sprintf("%s (%s) cannot be used: %v; %s", e.Role, e.Store, e.Err, Remedy(e.Role, e.Err))
}

func (e *UnusableError) Unwrap() error { return e.Err }

// Unusable is the error for store st, in role r, failing with err.
func Unusable(r Role, st storage.Store, err error) *UnusableError {
	return &UnusableError{Role: r, Store: st.Name(), Err: err}
}

// Writable refuses a read-only store (a URL list) as a destination: the job
// would only find out at its first copy.
func Writable(r Role, st storage.Store) error {
	if !storage.IsReadOnly(st) {
		return nil
	}
	return fmt.Errorf("%s (%s) cannot be used: it is read-only (a URL list can only be a source); "+
		"name an oss, cos, s3 or local store as the destination", r, st.Name())
}

// Probe lists at most one key of st under prefix, trying tries times
// backoff apart: the cheapest request that proves credentials and bucket.
func Probe(ctx context.Context, st storage.Store, prefix string, tries int, backoff time.Duration) error {
	_, err := storage.Retry(ctx, tries, backoff, func() (storage.Page, error) {
		return st.List(ctx, storage.ListOptions{Prefix: prefix, MaxKeys: 1})
	})
	return err
}

// Check probes st and classifies the answer. Bad credentials and missing
// buckets give an *UnusableError; a store that may not be listed gives one
// only when mustList (else a warning is logged and nil returned); transient
// errors are returned wrapped, for the caller to retry.
func Check(ctx context.Context, log *slog.Logger, r Role, st storage.Store, prefix string, mustList bool, tries int, backoff time.Duration) error {
	err := Probe(ctx, st, prefix, tries, backoff)
	switch {
	case err == nil:
		return nil
	case storage.IsRetryable(err) || ctx.Err() != nil:
		return fmt.Errorf("probe %s: %w", r, err)
	case storage.KindOf(err) == storage.KindForbidden && !mustList:
		log.Warn("store may not be listed; going on since this job does not list it", "store", st.Name(), "error", err)
		return nil
	}
	return Unusable(r, st, err)
}
