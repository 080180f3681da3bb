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
}

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
}

// ListAheadResult is the last key of each range listed, in order, and
// whether the listing reached the end of the shard.
type ListAheadResult struct {
	Bounds []string `json:"bounds,omitempty"`
	Done   bool     `json:"done"`
	Fleet  *Fleet   `json:"fleet,omitempty"`
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
