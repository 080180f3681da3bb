package workflows

import (
	"errors"

	"go.temporal.io/sdk/workflow"

	"github.com/bucketferry/bucketferry/migration"
)

// The spec a job runs with is decided once, at its start, and recorded.
//
// Before spec-recorded, the job validated its input and filled in the
// defaults (migration.JobSpec.WithDefaults) in workflow code on every
// replay: a release that changed a default (the shard window, the large
// objects a shard copies at once) or tightened validation changed what a
// running job's first run replayed to, and the job broke on its first
// worker of the new release. Now the first run validates and fills in
// the defaults inside a side effect, whose result is in the history, and
// carries the result (marked Defaulted) to its shards and next runs,
// which take it as it is. See docs/versioning.md.

// specVersion gates the recorded spec: runs recorded before it validate
// and fill in the defaults as they did.
const specVersion = "spec-recorded"

// specChecked is what the side effect records: the spec with its
// defaults, or why it cannot run.
type specChecked struct {
	Spec    migration.JobSpec `json:"spec"`
	Invalid string            `json:"invalid,omitempty"`
}

// runSpec is the spec a run of a job (first: its first run) or of one of
// its shards works with.
func runSpec(ctx workflow.Context, g gates, spec migration.JobSpec, jobID string, first bool) (migration.JobSpec, error) {
	if g.version(ctx, specVersion, 1) == workflow.DefaultVersion {
		if err := spec.Validate(); err != nil {
			return spec, invalidSpec(err)
		}
		return spec.WithDefaults(jobID), nil
	}
	if spec.Defaulted && !first {
		// Decided when the job started.
		return spec, nil
	}
	// A job's first run, or a run whose input was written before specs
	// were marked Defaulted (a job continued from a release before
	// spec-recorded), or a shard started alone.
	var checked specChecked
	err := workflow.SideEffect(ctx, func(workflow.Context) any {
		if err := spec.Validate(); err != nil {
			return specChecked{Invalid: err.Error()}
		}
		return specChecked{Spec: spec.WithDefaults(jobID)}
	}).Get(&checked)
	if err != nil {
		return spec, err
	}
	if checked.Invalid != "" {
		return spec, invalidSpec(errors.New(checked.Invalid))
	}
	return checked.Spec, nil
}
