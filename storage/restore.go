package storage

import "context"

// Restorer is implemented by stores whose archived objects can be made
// readable again (OSS RestoreObject, COS PostObjectRestore). It is separate
// from Store because most backends have no archive classes.
type Restorer interface {
	// Restore asks for a readable copy of an archived object. It returns
	// nil when the restore started, is already under way or has completed;
	// callers learn when it is done from Head (ObjectInfo.Restored).
	Restore(ctx context.Context, key string, opts RestoreOptions) error
}

// RestoreOptions configure a restore.
type RestoreOptions struct {
	Days int    // how long the restored copy stays readable
	Tier string // Expedited, Standard or Bulk; empty: the backend's default
}
