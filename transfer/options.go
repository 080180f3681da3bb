// Package transfer copies one object from any store to any other: streamed,
// never staged on disk; small objects with one GET and one PUT, large ones as
// a resumable multipart upload with parts fetched by ranged GETs and uploaded
// in parallel under a memory budget; every copy verified by size and CRC64.
package transfer

import (
	"fmt"
)

// Defaults for Options fields left zero.
const (
	DefaultMultipartThreshold = 64 << 20
	DefaultPartSize           = 16 << 20
	DefaultPartsInFlight      = 4
	DefaultPartAttempts       = 4
)

// Options tune a Copier. The zero value uses the defaults.
type Options struct {
	// MultipartThreshold: objects of at least this size are copied as
	// multipart uploads; smaller ones with a single PUT.
	MultipartThreshold int64
	// PartSize is the preferred part size; it grows for objects that would
	// otherwise need more parts than the destination allows, and is raised
	// to the destination's minimum.
	PartSize int64
	// PartsInFlight bounds the parts of one object read and uploaded at once.
	PartsInFlight int
	// MemoryBudget bounds the parts in flight of all copies running on this
	// Copier together, counted in bytes (parts stream from the source to the
	// destination without being buffered, so it was the memory bound of
	// buffered parts); 0 means PartsInFlight x PartSize x 4.
	MemoryBudget int64
	// PartAttempts is how often one part is tried before the copy fails.
	PartAttempts int
	// StorageClass, when set, is the class of every destination object
	// (a neutral name such as storage.ClassIA, or a destination-native one).
	StorageClass string
	// ClassMap maps a source class to a destination class; classes it does not
	// name are carried over unchanged (neutral names are mapped by each
	// backend: OSS ColdArchive becomes COS DEEP_ARCHIVE, for example).
	ClassMap map[string]string
}

func (o Options) withDefaults() Options {
	if o.MultipartThreshold <= 0 {
		o.MultipartThreshold = DefaultMultipartThreshold
	}
	if o.PartSize <= 0 {
		o.PartSize = DefaultPartSize
	}
	if o.PartsInFlight <= 0 {
		o.PartsInFlight = DefaultPartsInFlight
	}
	if o.MemoryBudget <= 0 {
		o.MemoryBudget = int64(o.PartsInFlight) * o.PartSize * 4
	}
	if o.PartAttempts <= 0 {
		o.PartAttempts = DefaultPartAttempts
	}
	return o
}

// Budget is the memory budget the options give, defaults applied.
func (o Options) Budget() int64 { return o.withDefaults().MemoryBudget }

// Validate reports options that cannot work.
func (o Options) Validate() error {
	switch {
	case o.MultipartThreshold < 0:
		return fmt.Errorf("transfer: multipart threshold %d is negative", o.MultipartThreshold)
	case o.PartSize < 0:
		return fmt.Errorf("transfer: part size %d is negative", o.PartSize)
	case o.PartsInFlight < 0:
		return fmt.Errorf("transfer: parts in flight %d is negative", o.PartsInFlight)
	case o.MemoryBudget < 0:
		return fmt.Errorf("transfer: memory budget %d is negative", o.MemoryBudget)
	}
	return nil
}
