// Package storage defines the small object-store interface every backend
// implements, the provider-neutral object and metadata types, and the typed
// errors that let callers decide between retrying and giving up.
package storage

import (
	"context"
	"io"
	"time"
)

// Store is one bucket (or directory tree) of objects. Implementations must be
// safe for concurrent use; callers create one per bucket and reuse it.
type Store interface {
	// Name identifies the store in errors and logs (for example "oss://bucket").
	Name() string
	// Limits reports the backend's multipart and metadata rules.
	Limits() Limits

	// List returns one page of objects in ascending key order, starting after
	// opts.After and stopping before opts.Before when set.
	List(ctx context.Context, opts ListOptions) (Page, error)
	// Head returns an object's size, checksum and metadata.
	Head(ctx context.Context, key string) (ObjectInfo, error)
	// Get streams an object, or a byte range of it. The returned info
	// describes the whole object (Size is the whole size, CRC64 the whole-object
	// checksum when the backend knows it).
	Get(ctx context.Context, key string, rng Range) (io.ReadCloser, ObjectInfo, error)
	// Put stores an object of exactly size bytes read from r.
	Put(ctx context.Context, key string, r io.Reader, size int64, meta Metadata) (PutResult, error)
	// Delete removes an object; deleting a missing object is not an error.
	Delete(ctx context.Context, key string) error

	// InitMultipart starts a multipart upload and returns its id.
	InitMultipart(ctx context.Context, key string, meta Metadata) (string, error)
	// UploadPart stores part number n (1-based) of an upload.
	UploadPart(ctx context.Context, key, uploadID string, n int, r io.Reader, size int64) (Part, error)
	// ListParts returns every part uploaded so far, in part-number order.
	ListParts(ctx context.Context, key, uploadID string) ([]Part, error)
	// CompleteMultipart assembles the listed parts into the object.
	CompleteMultipart(ctx context.Context, key, uploadID string, parts []Part) (PutResult, error)
	// AbortMultipart discards an upload and its parts.
	AbortMultipart(ctx context.Context, key, uploadID string) error
	// ListUploads returns the multipart uploads in progress whose key starts
	// with prefix.
	ListUploads(ctx context.Context, prefix string) ([]Upload, error)
}

// Limits are a backend's multipart and metadata rules.
type Limits struct {
	MinPartSize int64 // every part but the last must be at least this big
	MaxPartSize int64
	MaxParts    int
	MaxPutSize  int64 // largest single PUT
	// MaxUserMetadata is the largest total size (names plus values) of user
	// metadata the backend accepts; 0 means unlimited.
	MaxUserMetadata int
	// Checksum is the family the store reports for what it stores (in
	// PutResult, Part and Head): empty means CRC64ECMA. MD5 means S3's
	// rules: a single PUT's ETag is the object's MD5, a part's ETag the
	// part's MD5, and a multipart object's ETag the MD5 of the parts' MD5s
	// followed by "-" and their number.
	Checksum Algorithm
}

// ListOptions selects one page of a listing.
type ListOptions struct {
	Prefix string
	// After is the resumable cursor: only keys strictly greater are listed.
	After string
	// Before, when not empty, is an exclusive upper bound on keys.
	Before string
	// MaxKeys caps the page size; 0 means the backend's default (1,000).
	MaxKeys int
}

// Page is one page of a listing.
type Page struct {
	Objects []ObjectInfo
	// Next is the cursor for the next page (the last key seen); it is only
	// meaningful when Done is false.
	Next string
	// Done reports that nothing is left in the requested range.
	Done bool
}

// Range selects bytes [Offset, Offset+Length) of an object; Length <= 0 means
// to the end, so the zero value reads the whole object.
type Range struct {
	Offset int64
	Length int64
}

// IsWhole reports whether r covers the entire object.
func (r Range) IsWhole() bool { return r.Offset == 0 && r.Length <= 0 }

// ObjectInfo describes one object.
type ObjectInfo struct {
	Key          string
	Size         int64
	ETag         string
	LastModified time.Time
	// CRC64 is the CRC-64/XZ (ECMA-182) of the whole object; valid only
	// when HasCRC64 is set (listings and old objects may not carry it).
	CRC64    uint64
	HasCRC64 bool
	// Checksums are whole-object checksums of other families the store
	// reports (an S3 object's MD5 or full-object CRC32, a URL list's
	// MD5 column).
	Checksums []Checksum `json:",omitempty"`
	// Meta is filled by Head and Get; listings fill only StorageClass.
	Meta Metadata
	// Restored reports, for archived objects, that a readable copy exists.
	Restored bool
}

// Metadata is the provider-neutral metadata carried from one store to another.
type Metadata struct {
	ContentType        string
	ContentEncoding    string
	ContentDisposition string
	ContentLanguage    string
	CacheControl       string
	Expires            string
	// User holds user metadata with lower-case names and without the
	// provider prefix (x-oss-meta-, x-cos-meta-).
	User map[string]string
	// StorageClass is a neutral class name (see the Class constants) or a
	// backend-native one, which backends pass through unchanged.
	StorageClass string
}

// UserMetadataSize is the size providers count against their metadata limit:
// the sum of names (with the provider prefix) and values.
func (m Metadata) UserMetadataSize(prefix string) int {
	n := 0
	for k, v := range m.User {
		n += len(prefix) + len(k) + len(v)
	}
	return n
}

// Provider-neutral storage classes. Backends map them to their own names.
const (
	ClassStandard        = "Standard"
	ClassIA              = "IA"
	ClassArchive         = "Archive"
	ClassColdArchive     = "ColdArchive"
	ClassDeepColdArchive = "DeepColdArchive"
	ClassIntelligent     = "IntelligentTiering"
)

// IsArchiveClass reports whether objects of a neutral class need a restore
// before they can be read.
func IsArchiveClass(class string) bool {
	switch class {
	case ClassArchive, ClassColdArchive, ClassDeepColdArchive:
		return true
	}
	return false
}

// PutResult is what a store reports after writing an object.
type PutResult struct {
	ETag     string
	CRC64    uint64
	HasCRC64 bool
	// Checksums of other families the store reported for what it stored.
	Checksums []Checksum `json:",omitempty"`
}

// Part is one uploaded part of a multipart upload.
type Part struct {
	Number   int
	Size     int64
	ETag     string
	CRC64    uint64
	HasCRC64 bool
	// Checksums of other families of the part (an S3 part's MD5).
	Checksums []Checksum `json:",omitempty"`
}

// Upload is a multipart upload in progress.
type Upload struct {
	Key       string
	UploadID  string
	Initiated time.Time
}

// JustBefore returns a bound b such that ListOptions{After: b} lists every
// key >= key: the greatest string below key in the order of valid UTF-8
// keys. Object keys are UTF-8, which never contains the byte 0xFF, so
// decrementing the last byte and appending 0xFF sorts after every key below
// key and before key itself.
func JustBefore(key string) string {
	if key == "" {
		return ""
	}
	last := key[len(key)-1]
	if last == 0 {
		return key[:len(key)-1]
	}
	return key[:len(key)-1] + string([]byte{last - 1, 0xFF})
}

// JustAfter returns the smallest string greater than key, so
// ListOptions{Before: JustAfter(k)} includes k itself.
func JustAfter(key string) string { return key + "\x00" }

// ReadOnly is implemented by stores that can only be read: a URL list.
// A job refuses them as a destination before it starts.
type ReadOnly interface {
	ReadOnly() bool
}

// IsReadOnly reports whether st can only be read.
func IsReadOnly(st Store) bool {
	ro, ok := st.(ReadOnly)
	return ok && ro.ReadOnly()
}
