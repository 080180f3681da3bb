// Package migration holds the types shared by the starter, the workflows and
// the activities: the job spec a person can type as JSON, shard plans,
// activity inputs and results, progress and outcome. Types only: no I/O.
package migration

import (
	"time"
)

// TaskQueue is the one task queue every worker polls.
const TaskQueue = "bucketferry"

// Registered names, so that a job can be started from the Temporal CLI:
//
//	temporal workflow start --task-queue bucketferry --type MigrationJob --workflow-id my-job --input '{...}'
const (
	JobWorkflow   = "MigrationJob"
	ShardWorkflow = "MigrationShard"
)

// Query, signal and update names.
const (
	QueryProgress = "progress" // JobWorkflow: returns Progress
	// SignalShard is sent by a shard workflow to its job with a ShardReport.
	SignalShard = "shard-report"
	// UpdatePause and UpdateResume (JobWorkflow, no argument, returning
	// ControlResult) stop and restart the starting of new copies.
	UpdatePause  = "pause"
	UpdateResume = "resume"
	// SignalShardControl is sent by a job to its running shards with a
	// ShardControl when it is paused or resumed.
	SignalShardControl = "shard-control"
	// SignalStall is sent by a worker to a job with a StallSignal when it
	// finds one of the job's stores out, and again when the store answers.
	SignalStall = "store-stall"
)

// Location is a store named in the workers' configuration (which holds its
// endpoint, bucket and credentials) and a key prefix inside it.
type Location struct {
	Store  string `json:"store"`
	Prefix string `json:"prefix,omitempty"`
}

// String writes the location as the starter's -source and -destination
// flags take it: STORE or STORE:PREFIX.
func (l Location) String() string {
	if l.Prefix == "" {
		return l.Store
	}
	return l.Store + ":" + l.Prefix
}

// ConflictPolicy says what to do with an object that already exists at the
// destination.
type ConflictPolicy string

// Conflict policies.
const (
	// Overwrite copies every object, replacing what is there (the default,
	// as in the Tencent migration service).
	Overwrite ConflictPolicy = "overwrite"
	// Skip keeps any destination object of the same key.
	Skip ConflictPolicy = "skip"
	// SkipIdentical skips only when size and CRC64 already match.
	SkipIdentical ConflictPolicy = "skip-identical"
	// Changed is the second pass of an incremental sync: it copies only
	// objects new at the source, or whose size or CRC64 differ from the
	// destination's, or whose source LastModified is newer. Counts.New and
	// Counts.Changed split what it copied; Skipped counts the unchanged.
	Changed ConflictPolicy = "changed"
)

// ReadsDestination reports whether the policy looks at the destination
// object before it copies: the stores it needs listed and the requests a
// first attempt makes follow from it.
func (p ConflictPolicy) ReadsDestination() bool {
	return p == Skip || p == SkipIdentical || p == Changed
}

// SkipsExisting reports whether the policy leaves an existing destination
// object (any, or an identical one) in place by itself, without comparing
// times: a retried attempt then needs no check of what an earlier one wrote.
func (p ConflictPolicy) SkipsExisting() bool {
	return p == Skip || p == SkipIdentical
}

// Filters narrow the objects of a job beyond the source prefix.
type Filters struct {
	// Include, when not empty, keeps only keys matching one of the patterns;
	// Exclude drops keys matching any. Patterns are globs: `*` and `?` stay
	// within one path segment, `**` crosses segments; a pattern without `/`
	// matches the last segment of the key ("*.log").
	Include []string `json:"include,omitempty"`
	Exclude []string `json:"exclude,omitempty"`
	// Manifest, when set, names an object listing the source keys to copy,
	// one full key per line; the source is then not listed at all.
	Manifest *ManifestRef `json:"manifest,omitempty"`
}

// ManifestRef is an object holding a list of keys, or (Format
// ManifestFailures) the failure log of an earlier job: every JSON Lines
// chunk object under Prefix, read in key order, each line a Failure whose
// Key is copied again.
type ManifestRef struct {
	Store  string `json:"store"`
	Key    string `json:"key,omitempty"`
	Format string `json:"format,omitempty"` // "" (one key per line) or ManifestFailures
	Prefix string `json:"prefix,omitempty"` // ManifestFailures: where the chunks are
}

// ManifestFailures is the ManifestRef format of a failure log.
const ManifestFailures = "failures"

// Concurrency bounds the parallelism of a job.
type Concurrency struct {
	// Shards is how many shard workflows run at once (default 16).
	Shards int `json:"shards,omitempty"`
	// Objects is how many objects one batch activity copies at once
	// (default 32).
	Objects int `json:"objects,omitempty"`
	// LargeObjects is how many large-object activities one shard runs at
	// once (default 4).
	LargeObjects int `json:"largeObjects,omitempty"`
	// Activities, when set, caps the page activities the whole job keeps
	// in flight. Unset, the job offers as many as the workers polling its
	// task queue have slots, plus a quarter (see docs/scale.md).
	Activities int `json:"activities,omitempty"`
}

// JobSpec is a migration job: what to copy, where, and how. It holds no
// credentials: workers resolve store names from their own configuration.
type JobSpec struct {
	Source      Location       `json:"source"`
	Destination Location       `json:"destination"`
	Filters     Filters        `json:"filters,omitempty"`
	Conflict    ConflictPolicy `json:"conflict,omitempty"`
	// Archive says what to do with archived source objects not restored
	// (default ArchiveSkip); Restore tunes ArchiveRestore.
	Archive ArchivePolicy   `json:"archive,omitempty"`
	Restore *RestoreOptions `json:"restore,omitempty"`
	// StorageClass, when set, is forced on every destination object
	// (STANDARD, STANDARD_IA, ARCHIVE, ... or a neutral name); otherwise the
	// source class is mapped, with ClassMap overriding the default mapping.
	StorageClass string            `json:"storageClass,omitempty"`
	ClassMap     map[string]string `json:"classMap,omitempty"`
	Concurrency  Concurrency       `json:"concurrency,omitempty"`
	// Shards is the number of key-range shards to aim for (default 64).
	Shards int `json:"shards,omitempty"`
	// PageSize is the number of keys listed and copied per batch activity
	// (default 1,000).
	PageSize int `json:"pageSize,omitempty"`
	// LargeObjectBytes: objects of at least this size are copied by an
	// activity of their own that heartbeats its multipart progress
	// (default 64 MiB).
	LargeObjectBytes int64 `json:"largeObjectBytes,omitempty"`
	// SpreadObjectBytes: objects of at least this size have their parts
	// copied by eight activities at once, which any workers run, rather
	// than by one (default 1 GiB; windowed shards only).
	SpreadObjectBytes int64 `json:"spreadObjectBytes,omitempty"`
	// MaxAttempts bounds the tries of one object before it is recorded as
	// failed (default 5).
	MaxAttempts int `json:"maxAttempts,omitempty"`
	// FailureLog is where every failed key is written, as JSON Lines objects
	// under its prefix; default: the destination store, prefix
	// "bucketferry-reports/<job id>/".
	FailureLog *Location `json:"failureLog,omitempty"`
	// SearchAttributes turns on the custom search attributes (the starter
	// registers them and sets this); off, nothing depends on them.
	SearchAttributes bool `json:"searchAttributes,omitempty"`
	// Limits are the job's initial QPS and bandwidth limits over all its
	// workers; the UpdateSetLimits update changes them while it runs.
	Limits Limits `json:"limits,omitzero"`
	// OutageMaxBackoff is the longest wait between tries while a store is
	// out (a Go duration, "2m"; default DefaultOutageMaxBackoff): waits
	// start at a second (or at this, when shorter) and double up to it. It
	// is also the cap of every activity's retry interval, whose attempts are
	// unlimited (see docs/outages.md).
	OutageMaxBackoff string `json:"outageMaxBackoff,omitempty"`
	// Defaulted is set by WithDefaults: every default of the release that
	// started the job is filled in. Workflow code takes such a spec as it
	// is, so that a later release with other defaults replays a running
	// job the same (docs/versioning.md).
	Defaulted bool `json:"defaulted,omitempty"`
}

// DefaultOutageMaxBackoff is the cap of the waits while a store is out.
const DefaultOutageMaxBackoff = 2 * time.Minute

// OutageBackoff returns the first and the longest wait between tries while
// a store is out. It is not a default filled in by WithDefaults, so that a
// running job's inputs never change with a release's default.
func (s JobSpec) OutageBackoff() (initial, maximum time.Duration) {
	maximum = DefaultOutageMaxBackoff
	if d, err := time.ParseDuration(s.OutageMaxBackoff); err == nil && d > 0 {
		maximum = d
	}
	return min(time.Second, maximum), maximum
}

// Defaults for JobSpec fields left zero.
const (
	DefaultShards           = 64
	DefaultShardConcurrency = 16
	DefaultObjectWorkers    = 32
	DefaultLargeWorkers     = 4
	DefaultPageSize         = 1000
	DefaultLargeObjectBytes = 64 << 20
	DefaultMaxAttempts      = 5
	MaxPageSize             = 1000
	MaxShards               = 10000
)

// WithDefaults returns the spec with every zero field set to its default,
// marked Defaulted. jobID names the default failure log. A job records
// the result at its start (workflows: spec-recorded), so that changing a
// default here changes new jobs only; see docs/versioning.md.
func (s JobSpec) WithDefaults(jobID string) JobSpec {
	s.Defaulted = true
	if s.SpreadObjectBytes <= 0 {
		s.SpreadObjectBytes = DefaultSpreadObjectBytes
	}
	if s.Archive == ArchiveRestore {
		r := s.RestoreSettings()
		s.Restore = &r
	}
	if s.Conflict == "" {
		s.Conflict = Overwrite
	}
	if s.Shards <= 0 {
		s.Shards = DefaultShards
	}
	if s.PageSize <= 0 {
		s.PageSize = DefaultPageSize
	}
	if s.LargeObjectBytes <= 0 {
		s.LargeObjectBytes = DefaultLargeObjectBytes
	}
	if s.MaxAttempts <= 0 {
		s.MaxAttempts = DefaultMaxAttempts
	}
	if s.Concurrency.Shards <= 0 {
		s.Concurrency.Shards = DefaultShardConcurrency
	}
	if s.Concurrency.Objects <= 0 {
		s.Concurrency.Objects = DefaultObjectWorkers
	}
	if s.Concurrency.LargeObjects <= 0 {
		s.Concurrency.LargeObjects = DefaultLargeWorkers
	}
	if s.FailureLog == nil {
		s.FailureLog = &Location{Store: s.Destination.Store, Prefix: "bucketferry-reports/" + jobID + "/"}
	}
	return s
}

// Shard is one contiguous piece of a job's key space: the keys k with
// After < k < Before (an empty Before is unbounded) under the source
// prefix, or, for manifest jobs, the manifest lines in bytes
// [ManifestStart, ManifestEnd). For a failure-log manifest
// (ManifestFailures), After and Before bound the chunk object keys the shard
// reads, and the manifest offsets count bytes of those chunks laid end to
// end in key order.
type Shard struct {
	Index         int    `json:"index"`
	After         string `json:"after,omitempty"`
	Before        string `json:"before,omitempty"`
	ManifestStart int64  `json:"manifestStart,omitempty"`
	ManifestEnd   int64  `json:"manifestEnd,omitempty"`
}

// Counts are the running totals of a shard or job.
type Counts struct {
	Copied       int64 `json:"copied"`
	Skipped      int64 `json:"skipped"`
	Failed       int64 `json:"failed"`
	BytesCopied  int64 `json:"bytesCopied"`
	BytesSkipped int64 `json:"bytesSkipped"`
	BytesFailed  int64 `json:"bytesFailed"`
	// BytesSent counts every byte uploaded, retries included, so
	// BytesSent - BytesCopied is what failures and retries cost.
	BytesSent int64 `json:"bytesSent"`
	// New and Changed split Copied under the Changed conflict policy:
	// objects absent at the destination, and objects that differed (or
	// whose copy an interrupted attempt made).
	New     int64 `json:"new,omitempty"`
	Changed int64 `json:"changed,omitempty"`
	// DestinationOnlyVerified counts the copied objects whose source
	// reported no checksum to check the data against (a URL without an
	// MD5, an S3 multipart object without a full-object checksum): they
	// were verified against what the destination reports only.
	DestinationOnlyVerified int64 `json:"destinationOnlyVerified,omitempty"`
}

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	c.Copied += o.Copied
	c.Skipped += o.Skipped
	c.Failed += o.Failed
	c.BytesCopied += o.BytesCopied
	c.BytesSkipped += o.BytesSkipped
	c.BytesFailed += o.BytesFailed
	c.BytesSent += o.BytesSent
	c.New += o.New
	c.Changed += o.Changed
	c.DestinationOnlyVerified += o.DestinationOnlyVerified
}

// Objects is the number of objects done, whatever the outcome.
func (c Counts) Objects() int64 { return c.Copied + c.Skipped + c.Failed }

// Failure is one object that could not be copied.
type Failure struct {
	Key      string `json:"key"`
	Size     int64  `json:"size"`
	Reason   string `json:"reason"`
	Kind     string `json:"kind"` // storage error kind, e.g. "not found"
	Attempts int    `json:"attempts"`
	Shard    int    `json:"shard"`
}

// FailureSampleSize bounds the failures carried in results and progress;
// every failure is in the failure log.
const FailureSampleSize = 20

// Status is a job's state, as the Tencent console shows it.
type Status string

// Job states.
const (
	StatusPlanning Status = "planning"
	StatusRunning  Status = "running"
	// StatusSucceeded: every object is at the destination, verified (green).
	StatusSucceeded Status = "succeeded"
	// StatusCompletedWithFailures: the job ran to the end but some objects
	// failed (yellow); the failure log lists each with its reason.
	StatusCompletedWithFailures Status = "completed with failures"
	// StatusFailed: the job stopped (bad credentials, missing bucket).
	StatusFailed Status = "failed"
	// StatusPaused: a running job whose shards start no new copies until
	// it is resumed.
	StatusPaused Status = "paused"
	// StatusStalled: a running job that waits for a store that is out
	// (unreachable, 5xx, throttling everything); it goes on by itself when
	// the store answers. Progress.Stalls says which and since when.
	StatusStalled Status = "stalled"
)

// Stall is a store a job waits for.
type Stall struct {
	// Store names the store ("source store \"src\""), What the service
	// that is out: "objects" (reads or writes of objects) or "listing".
	Store  string    `json:"store"`
	What   string    `json:"what"`
	Since  time.Time `json:"since"`
	Reason string    `json:"reason"`
}

// StallSignal is the SignalStall payload: a stall begins (Stalled) or ends.
type StallSignal struct {
	Stall
	Stalled bool `json:"stalled"`
}

// JobResult is what a finished job workflow returns.
type JobResult struct {
	Status        Status    `json:"status"`
	Counts        Counts    `json:"counts"`
	Shards        int       `json:"shards"`
	FailureSample []Failure `json:"failureSample,omitempty"`
	FailureLog    Location  `json:"failureLog"`
	Started       time.Time `json:"started"`
	Finished      time.Time `json:"finished"`
}

// ShardCounts says where a job's shards are.
type ShardCounts struct {
	Total   int `json:"total"`
	Done    int `json:"done"`
	Running int `json:"running"`
	Pending int `json:"pending"`
}

// Progress is the answer to QueryProgress.
type Progress struct {
	Status Status      `json:"status"`
	Shards ShardCounts `json:"shards"`
	Counts Counts      `json:"counts"`
	// BytesPerSecond and ObjectsPerSecond are the rates over the last
	// minute or so of reports.
	BytesPerSecond   float64   `json:"bytesPerSecond"`
	ObjectsPerSecond float64   `json:"objectsPerSecond"`
	Started          time.Time `json:"started"`
	Elapsed          string    `json:"elapsed"`
	FailureSample    []Failure `json:"failureSample,omitempty"`
	FailureLog       Location  `json:"failureLog"`
	// Error is set when the job failed.
	Error string `json:"error,omitempty"`
	// Fleet is the workers serving the job's task queue as last heard,
	// Window the page activities the job offers them at once, and
	// Activities its activities scheduled or running.
	Fleet      *Fleet `json:"fleet,omitempty"`
	Window     int    `json:"window,omitempty"`
	Activities int    `json:"activities,omitempty"`
	// Stalls are the stores the job waits for, earliest first; the status
	// is StatusStalled while there are any (unless paused).
	Stalls []Stall `json:"stalls,omitempty"`
}

// JobInput is the job workflow's input. A person starting a job gives only
// Spec; the other fields carry state across continue-as-new.
type JobInput struct {
	Spec  JobSpec   `json:"spec"`
	State *JobState `json:"state,omitempty"`
}

// JobState is what a job run hands to its next run.
type JobState struct {
	Plan      []Shard      `json:"plan"`
	NextShard int          `json:"nextShard"`
	Running   []int        `json:"running"` // shard indexes
	Done      int          `json:"done"`
	Counts    Counts       `json:"counts"`
	Failures  []Failure    `json:"failures,omitempty"` // sample
	Started   time.Time    `json:"started"`
	Samples   []RateSample `json:"samples,omitempty"`
	Runs      int          `json:"runs"`
	// Paused and ControlSeq carry the pause state (see ShardControl).
	Paused     bool  `json:"paused,omitempty"`
	ControlSeq int64 `json:"controlSeq,omitempty"`
	// CarryListed: the source is far away, and the job's shards carry the
	// objects of their last page to its copies (ShardInput.CarryListed).
	CarryListed bool `json:"carryListed,omitempty"`
	// Limits are the job's current limits (nil: the spec's).
	Limits *Limits `json:"limits,omitempty"`
	// Fleet is the newest view of the workers the job has heard of, and
	// WindowSeq numbers the ShardWindow signals it sent (windowed jobs).
	Fleet     *Fleet `json:"fleet,omitempty"`
	WindowSeq int64  `json:"windowSeq,omitempty"`
	// Stalls are the open stalls (see SignalStall).
	Stalls []Stall `json:"stalls,omitempty"`
}

// RateSample is a point of the progress curve for rate estimates.
type RateSample struct {
	At      time.Time `json:"at"`
	Objects int64     `json:"objects"`
	Bytes   int64     `json:"bytes"`
}

// ShardInput is the shard workflow's input; Cursor, Counts and Runs carry
// state across continue-as-new.
type ShardInput struct {
	JobID string  `json:"jobId"` // also the job workflow's id, for signals
	Spec  JobSpec `json:"spec"`  // with defaults applied
	Shard Shard   `json:"shard"`
	// Cursor is the last key done (or, for manifests, the next byte offset).
	Cursor         string `json:"cursor,omitempty"`
	ManifestCursor int64  `json:"manifestCursor,omitempty"`
	Page           int    `json:"page"` // pages done so far, names failure-log chunks
	Counts         Counts `json:"counts"`
	Runs           int    `json:"runs"`
	// Paused and ControlSeq carry the last ShardControl across
	// continue-as-new.
	Paused     bool  `json:"paused,omitempty"`
	ControlSeq int64 `json:"controlSeq,omitempty"`
	// Window, when positive, is how many pages the shard copies at once:
	// it lists ahead (Cursor is then the last key listed, not the last
	// done) and keeps that many CopyPage activities in flight, each over a
	// Range of listed keys. The job changes it with ShardWindow signals;
	// WindowSeq carries the newest across continue-as-new. Zero is the
	// sequential walk of shards started before windows existed.
	Window    int   `json:"window,omitempty"`
	WindowSeq int64 `json:"windowSeq,omitempty"`
	// Ranges are the listed ranges not yet copied, and Listed says the
	// shard has been listed to its end (windowed shards only).
	Ranges []Range `json:"ranges,omitempty"`
	Listed bool    `json:"listed,omitempty"`
	// Open marks the head shard of a job that started copying while its
	// plan was still being made (early.go in workflows): its Shard starts
	// at the beginning of the key space and has no end until a ShardCut
	// gives it one.
	Open bool `json:"open,omitempty"`
	// CarryListed asks the shard to have the listing of its last page
	// return that page's objects (Range.Objects), so that the copies of
	// its last ranges do not list them again: against a far-away source
	// a range's own listing is a round trip, a third of the time of a
	// range of one chunk, and the end of a shard is cut into such ranges.
	CarryListed bool `json:"carryListed,omitempty"`
}

// ShardControl is the signal a job sends its running shards when it is
// paused or resumed. Seq grows with every change, so that a shard applies
// only the newest whatever order signals arrive in.
type ShardControl struct {
	Paused bool  `json:"paused"`
	Seq    int64 `json:"seq"`
}

// ControlResult answers UpdatePause and UpdateResume.
type ControlResult struct {
	Paused bool `json:"paused"`
	// Changed is false when the job already was in the state asked for.
	Changed bool `json:"changed"`
	// ShardsNotified is how many running shards were told.
	ShardsNotified int `json:"shardsNotified"`
}

// ShardResult is what a shard workflow returns (and reports to its job).
type ShardResult struct {
	Shard    int       `json:"shard"`
	Counts   Counts    `json:"counts"`
	Failures []Failure `json:"failures,omitempty"` // sample
	// Fatal is set when the shard stopped on an error that stops the job.
	Fatal string `json:"fatal,omitempty"`
}

// ShardReport is the signal a shard sends its job: progress deltas while it
// runs, and its result when it ends.
type ShardReport struct {
	Shard    int          `json:"shard"`
	Delta    Counts       `json:"delta"`
	Failures []Failure    `json:"failures,omitempty"` // sample of new failures
	Done     *ShardResult `json:"done,omitempty"`
	// InFlight is the number of the shard's activities scheduled or
	// running when it sent the report: the job's Pacing sums them.
	InFlight int `json:"inFlight,omitempty"`
	// Pages is what a windowed shard could copy at once now: its ranges
	// listed and not done, or -1 while it has keys left to list. The job
	// gives a shard no bigger window than it can fill.
	Pages int `json:"pages,omitempty"`
	// Fleet is the newest view of the workers a shard's activities
	// brought back since its last report.
	Fleet *Fleet `json:"fleet,omitempty"`
	// Cut is the head shard's answer to a ShardCut: where it ends.
	Cut *CutReport `json:"cut,omitempty"`
}

// PlanInput is the input of the planning activity.
type PlanInput struct {
	JobID string  `json:"jobId"`
	Spec  JobSpec `json:"spec"`
	// CheckOnly asks only for the stores' checks (and the fleet and the
	// source's round trip), not for shards.
	CheckOnly bool `json:"checkOnly,omitempty"`
	// Checked says the job checked its stores already (a CheckOnly plan
	// just before): the plan does not probe them again.
	Checked bool `json:"checked,omitempty"`
	// CarryFromMS asks a CheckOnly plan whose source's check took at least
	// this many milliseconds for the objects of the source's first page
	// too (Head.Objects), within MaxCarriedBytes: a job against a far-away
	// source starts copying them without listing them again; a near one
	// does not carry them in its history for nothing.
	CarryFromMS int64 `json:"carryFromMs,omitempty"`
}

// PlanResult is the shard plan. The planner also checks that both stores
// are reachable with the workers' credentials, so a bad key fails the job
// before anything is fanned out.
type PlanResult struct {
	// Shards partition the job's scope, in the order the job starts them:
	// for a listed source the biggest estimated first, so that no big
	// shard is left to copy alone at the end.
	Shards []Shard `json:"shards"`
	// Fleet is the workers serving the task queue as the planning worker
	// saw them; nil when the server keeps no worker heartbeats.
	Fleet *Fleet `json:"fleet,omitempty"`
	// SourceRoundTripMS is, for CheckOnly, how long the source's check
	// took, in milliseconds: a far-away source makes planning take seconds.
	SourceRoundTripMS int64 `json:"sourceRoundTripMs,omitempty"`
	// Head is, for CheckOnly, the source's first page in chunks (as a
	// ListAhead from the start of the key space returns it): the job's
	// head shard starts copying them at once.
	Head *ListAheadResult `json:"head,omitempty"`
}

// CopyPageInput asks a batch activity to list one page of a shard (at most
// Spec.PageSize keys after After, or manifest bytes from ManifestOffset) and
// copy the objects of it that are smaller than Spec.LargeObjectBytes.
type CopyPageInput struct {
	JobID          string  `json:"jobId"`
	Spec           JobSpec `json:"spec"`
	Shard          Shard   `json:"shard"`
	After          string  `json:"after,omitempty"`
	ManifestOffset int64   `json:"manifestOffset,omitempty"`
	Page           int     `json:"page"`
	// Objects, when set, are the range's objects as the shard's listing
	// found them: the copy takes them and does not list the range again.
	Objects []Listed `json:"objects,omitempty"`
	// Packed, when set, are the range's objects as the shard's listing
	// packed them, a chunk each (ListAheadResult.Chunks): the copy takes
	// them and does not list the range again.
	Packed [][]byte `json:"packed,omitempty"`
}

// LargeObject is an object left for its own activity.
type LargeObject struct {
	Key  string `json:"key"`
	Size int64  `json:"size"`
}

// CopyPageResult reports a page: where the next page starts, counts, and
// the large objects found.
type CopyPageResult struct {
	LastKey      string        `json:"lastKey,omitempty"`
	NextManifest int64         `json:"nextManifest,omitempty"`
	Done         bool          `json:"done"` // the shard has no more keys
	Counts       Counts        `json:"counts"`
	Large        []LargeObject `json:"large,omitempty"`
	Failures     []Failure     `json:"failures,omitempty"` // sample
	// Archived are the archived, not restored objects found under the
	// ArchiveRestore policy, left for the shard's restore flow.
	Archived []LargeObject `json:"archived,omitempty"`
	// Fleet: see PlanResult.
	Fleet *Fleet `json:"fleet,omitempty"`
}

// CopyLargeInput asks for one large object to be copied.
type CopyLargeInput struct {
	JobID  string      `json:"jobId"`
	Spec   JobSpec     `json:"spec"`
	Shard  int         `json:"shard"`
	Object LargeObject `json:"object"`
	// Resume, for an object whose parts CopyLargeParts activities copied,
	// is their upload: the copy uploads what is missing, completes it and
	// verifies it. Sent is what those activities uploaded.
	Resume *Upload `json:"resume,omitempty"`
	Sent   int64   `json:"sent,omitempty"`
}

// CopyLargeResult reports one large object.
type CopyLargeResult struct {
	Counts  Counts   `json:"counts"`
	Failure *Failure `json:"failure,omitempty"`
	// Fleet: see PlanResult.
	Fleet *Fleet `json:"fleet,omitempty"`
}

// Search attributes, registered by the starter (Keyword unless noted).
const (
	SAStatus        = "BucketferryStatus"
	SASource        = "BucketferrySource"
	SADestination   = "BucketferryDestination"
	SAObjectsCopied = "BucketferryObjectsCopied" // Int
	SABytesCopied   = "BucketferryBytesCopied"   // Int
	SAObjectsFailed = "BucketferryObjectsFailed" // Int
)

// Error types of non-retryable application errors.
const (
	// ErrFatal: bad credentials, missing bucket: the job stops.
	ErrFatal = "BucketferryFatal"
	// ErrInvalidSpec: the job spec cannot run.
	ErrInvalidSpec = "BucketferryInvalidSpec"
)
