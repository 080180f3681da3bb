package migration

import (
	"fmt"
	"time"
)

// ArchivePolicy says what a job does with source objects in an archive
// class (OSS Archive, ColdArchive, DeepColdArchive) that are not restored.
type ArchivePolicy string

// Archive policies.
const (
	// ArchiveSkip records every archived, not restored object as a failure
	// with the reason ArchivedReason, without a request (the default).
	ArchiveSkip ArchivePolicy = "skip"
	// ArchiveRestore asks the source to restore them, waits durably (a
	// workflow timer between short HEAD activities) until they are
	// readable, then copies them.
	ArchiveRestore ArchivePolicy = "restore"
)

// ArchivedReason is the failure reason of an archived object left alone.
const ArchivedReason = "archived, not restored"

// RestoreOptions tune ArchiveRestore.
type RestoreOptions struct {
	// Days the restored copy stays readable (default 1).
	Days int `json:"days,omitempty"`
	// Tier is the restore priority where the source offers one
	// (Expedited, Standard, Bulk; default Standard).
	Tier string `json:"tier,omitempty"`
	// PollSeconds is the first wait between checks of a batch (default
	// 300); each wait doubles, up to 16 times the first.
	PollSeconds int `json:"pollSeconds,omitempty"`
	// MaxWaitSeconds bounds the wait for a batch (default 7 days); objects
	// still archived then fail.
	MaxWaitSeconds int `json:"maxWaitSeconds,omitempty"`
}

// Defaults of RestoreOptions.
const (
	DefaultRestoreDays    = 1
	DefaultRestoreTier    = "Standard"
	DefaultRestorePoll    = 5 * time.Minute
	DefaultRestoreMaxWait = 7 * 24 * time.Hour
)

// RestoreSettings returns the restore options with defaults applied.
func (s JobSpec) RestoreSettings() RestoreOptions {
	var o RestoreOptions
	if s.Restore != nil {
		o = *s.Restore
	}
	if o.Days <= 0 {
		o.Days = DefaultRestoreDays
	}
	if o.Tier == "" {
		o.Tier = DefaultRestoreTier
	}
	if o.PollSeconds <= 0 {
		o.PollSeconds = int(DefaultRestorePoll / time.Second)
	}
	if o.MaxWaitSeconds <= 0 {
		o.MaxWaitSeconds = int(DefaultRestoreMaxWait / time.Second)
	}
	return o
}

func (s JobSpec) validateArchive() []error {
	var errs []error
	switch s.Archive {
	case "", ArchiveSkip, ArchiveRestore:
	default:
		errs = append(errs, fmt.Errorf("spec.archive: %q is not one of %q, %q", s.Archive, ArchiveSkip, ArchiveRestore))
	}
	if r := s.Restore; r != nil {
		switch r.Tier {
		case "", "Expedited", "Standard", "Bulk":
		default:
			errs = append(errs, fmt.Errorf("spec.restore.tier: %q is not one of Expedited, Standard, Bulk", r.Tier))
		}
		if r.Days < 0 || r.PollSeconds < 0 || r.MaxWaitSeconds < 0 {
			errs = append(errs, fmt.Errorf("spec.restore: days, pollSeconds and maxWaitSeconds must not be negative"))
		}
	}
	return errs
}

// RestoreInput asks to restore, or to check the restores of, archived
// source objects of one shard.
type RestoreInput struct {
	JobID   string        `json:"jobId"`
	Spec    JobSpec       `json:"spec"`
	Shard   int           `json:"shard"`
	Objects []LargeObject `json:"objects"`
	// Final: objects still archived are recorded as failed (the wait is
	// over).
	Final bool `json:"final,omitempty"`
	// Batch and Round name the failure-log chunk of one call.
	Batch int `json:"batch"`
	Round int `json:"round"`
}

// RestoreResult says which objects are readable now and which are not yet;
// objects that cannot be restored are failed (counted and logged).
type RestoreResult struct {
	Restored []LargeObject `json:"restored,omitempty"`
	Pending  []LargeObject `json:"pending,omitempty"`
	Counts   Counts        `json:"counts"`
	Failures []Failure     `json:"failures,omitempty"` // sample
}
