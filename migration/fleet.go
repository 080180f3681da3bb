package migration

import "time"

// SignalShardWindow is sent by a job to a running windowed shard with a
// ShardWindow when the shard's part of the job's window changes.
const SignalShardWindow = "shard-window"

// Fleet is what the workers polling the migration task queue can run at
// once, from the heartbeats they send Temporal (see package fleet).
type Fleet struct {
	// Workers are the live workers; Slots their activity slots in all,
	// Used those running an activity.
	Workers int `json:"workers"`
	Slots   int `json:"slots"`
	Used    int `json:"used"`
	// At is when the view was taken, by the clock of the worker that took
	// it: the job keeps the newest.
	At time.Time `json:"at"`
}

// Newer returns whichever of f and g was taken later (nil loses).
func (f *Fleet) Newer(g *Fleet) *Fleet {
	switch {
	case g == nil:
		return f
	case f == nil || g.At.After(f.At):
		return g
	}
	return f
}

// Range is a run of listed keys of a shard, (After, Last], that one
// CopyPage activity copies. Page numbers its failure-log chunk.
type Range struct {
	After string `json:"after,omitempty"`
	Last  string `json:"last"`
	Page  int    `json:"page"`
	// Objects are the range's objects when its listing carried them
	// (ListAheadResult.Objects): all of them, in order, or none.
	Objects []Listed `json:"objects,omitempty"`
	// Packed are the range's objects when its listing packed them, a
	// chunk each (ListAheadResult.Chunks): all of its chunks, or none.
	Packed [][]byte `json:"p,omitempty"`
}

// Listed is an object as a listing found it, in few bytes: what the copy
// of a range needs of it without listing the range again.
type Listed struct {
	Key  string `json:"k"`
	Size int64  `json:"s,omitempty"`
	ETag string `json:"e,omitempty"`
	// Modified is the object's last modification, in Unix nanoseconds.
	Modified int64 `json:"t,omitempty"`
	// CRC64 is the object's CRC-64/ECMA in hex, when the listing had it.
	CRC64 string `json:"c,omitempty"`
	// Class is the neutral storage class; Restored that an archived
	// object has a readable copy.
	Class    string `json:"cl,omitempty"`
	Restored bool   `json:"r,omitempty"`
	// Sums are checksums of other families, as "algorithm:value".
	Sums []string `json:"x,omitempty"`
}

// MaxCarriedBytes bounds the objects a listing carries in its result
// (about 150 bytes an object of 50-byte keys): a shard's last page of a
// thousand such objects passes; one of long keys is listed again by the
// copies of its ranges. It keeps the result, and the shard's state across
// continue-as-new, far within Temporal's payload limit (docs/payloads.md).
const MaxCarriedBytes = 256 << 10

// ListAheadInput asks for the next ranges of a windowed shard: the keys
// after After are listed, at most Ranges pages of them, and cut into
// ranges of at most Spec.PageSize keys and, where the listing allows, at
// least MinKeys.
type ListAheadInput struct {
	JobID   string  `json:"jobId"`
	Spec    JobSpec `json:"spec"`
	Shard   Shard   `json:"shard"`
	After   string  `json:"after,omitempty"`
	Ranges  int     `json:"ranges"`
	MinKeys int     `json:"minKeys"`
	// Listings bounds the listing requests (default 4); a shard with
	// nothing to copy asks for one, to start copying a request sooner.
	Listings int `json:"listings,omitempty"`
	// ChunkKeys, when set, asks for the ends of chunks of this many keys
	// instead of ranges (Ranges and MinKeys then only bound the listing):
	// the shard joins chunks into ranges when it starts them, as many as
	// its free slots call for.
	ChunkKeys int `json:"chunkKeys,omitempty"`
	// Carry asks for the objects listed (ListAheadResult.Objects) when the
	// listing reaches the end of the shard, within MaxCarriedBytes.
	Carry bool `json:"carry,omitempty"`
	// CarryAll asks for them whether or not the listing reaches the end:
	// the shard will share them over empty slots.
	CarryAll bool `json:"carryAll,omitempty"`
	// Pack asks for the objects of every chunk listed, packed
	// (ListAheadResult.Chunks), within MaxCarriedBytes.
	Pack bool `json:"pack,omitempty"`
}

// ListAheadResult is the last key of each range listed, in order, and
// whether the listing reached the end of the shard.
type ListAheadResult struct {
	Bounds []string `json:"bounds,omitempty"`
	Done   bool     `json:"done"`
	Fleet  *Fleet   `json:"fleet,omitempty"`
	// Objects are, when Carry asked for them, the objects of the last
	// chunks listed, in order from the first key of a chunk: as many
	// chunks as fit MaxCarriedBytes.
	Objects []Listed `json:"objects,omitempty"`
	// Chunks are, when Pack asked for them, the packed objects of each
	// chunk, one for each of Bounds: as many of the first chunks as fit
	// MaxCarriedBytes, the others empty (their copies list them). Their
	// format is the activities' business; the workflow only hands each
	// on to the copy of its range.
	Chunks [][]byte `json:"chunks,omitempty"`
}

// ChunkKeys is the keys of a chunk a windowed shard lists (ListAheadInput):
// one round of a range's copy pool, never more than a page.
func (s JobSpec) ChunkKeys() int {
	return min(max(s.Concurrency.Objects, 1), max(s.PageSize, 1))
}

// ShardWindow tells a windowed shard how many pages to copy at once. Seq
// grows with every window the job sends, so that a shard keeps the newest
// whatever order signals arrive in.
type ShardWindow struct {
	Pages int   `json:"pages"`
	Seq   int64 `json:"seq"`
}

// SignalShardCut is sent by a job to its open head shard (ShardInput.Open)
// with a ShardCut once the plan is made.
const SignalShardCut = "shard-cut"

// ShardCut gives an open head shard the plan's boundaries: the After of
// every planned shard but the first, in key order. The head ends at the
// first boundary not below what it has listed, and answers with a
// CutReport in its next report.
type ShardCut struct {
	Bounds []string `json:"bounds"`
}

// CutReport is where the head shard ends: at the boundary Through (it
// takes every key up to it), or, with All, nowhere: it had listed past
// every boundary, or to the end of the key space, and takes it all.
type CutReport struct {
	Through string `json:"through,omitempty"`
	All     bool   `json:"all,omitempty"`
}

// DefaultSpreadObjectBytes is JobSpec.SpreadObjectBytes's default.
const DefaultSpreadObjectBytes = 1 << 30

// Upload is a multipart upload of one large object begun for
// CopyLargeParts activities to fill (transfer.Upload).
type Upload struct {
	UploadID string `json:"uploadId"`
	PartSize int64  `json:"partSize"`
	SrcSize  int64  `json:"srcSize"`
	SrcETag  string `json:"srcETag"`
	Parts    int    `json:"parts"`
}

// BeginLargeResult is the upload begun for a large object, or nil when the
// object is to be copied whole by CopyLarge (its conflict policy skips it,
// or it is too small to spread).
type BeginLargeResult struct {
	Upload *Upload `json:"upload,omitempty"`
	Fleet  *Fleet  `json:"fleet,omitempty"`
}

// CopyLargePartsInput asks for parts [From, To) of an upload.
type CopyLargePartsInput struct {
	JobID  string      `json:"jobId"`
	Spec   JobSpec     `json:"spec"`
	Shard  int         `json:"shard"`
	Object LargeObject `json:"object"`
	Upload Upload      `json:"upload"`
	From   int         `json:"from"`
	To     int         `json:"to"`
}

// CopyLargePartsResult reports the bytes a CopyLargeParts activity
// uploaded, retries included.
type CopyLargePartsResult struct {
	Parts int    `json:"parts"`
	Sent  int64  `json:"sent"`
	Fleet *Fleet `json:"fleet,omitempty"`
}
