// Package storagetest is the conformance suite every storage.Store backend
// must pass. Backends describe how to make stores in a Harness and call Run
// from their own tests.
package storagetest

import (
	"testing"

	"github.com/bucketferry/bucketferry/storage"
)

// Harness tells the suite how to make stores of one backend.
type Harness struct {
	// New returns a new, empty store (a fresh bucket) on every call.
	New func(t *testing.T) storage.Store
	// WrongCredentials returns a store for an existing bucket with a wrong
	// secret; nil when the backend has no credentials (local).
	WrongCredentials func(t *testing.T) storage.Store
	// MissingBucket returns a store for a bucket (or root directory) that
	// does not exist.
	MissingBucket func(t *testing.T) storage.Store
}

// Run runs every conformance test against the backend h describes.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil {
		t.Fatal("storagetest: Harness.New is required")
	}
}
