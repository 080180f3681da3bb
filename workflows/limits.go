package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/bucketferry/bucketferry/migration"
)

// registerLimits makes the job the owner of its limits: the limits query
// answers them, the pacing query answers them with the activities in
// flight (workers ask it every few seconds), and the setLimits update
// changes them while the job runs. They live in the job's state, so they
// survive continue-as-new; neither handler adds a command, so histories
// recorded before limits existed replay unchanged.
func (j *job) registerLimits(ctx workflow.Context) error {
	if j.st.Limits == nil {
		l := j.spec.Limits
		j.st.Limits = &l
	}
	err := workflow.SetQueryHandler(ctx, migration.QueryLimits, func() (migration.Limits, error) {
		return *j.st.Limits, nil
	})
	if err != nil {
		return fmt.Errorf("register limits query: %w", err)
	}
	err = workflow.SetQueryHandler(ctx, migration.QueryPacing, func() (migration.Pacing, error) {
		return migration.Pacing{Limits: *j.st.Limits, Activities: j.activitiesInFlight()}, nil
	})
	if err != nil {
		return fmt.Errorf("register pacing query: %w", err)
	}
	err = workflow.SetUpdateHandlerWithOptions(ctx, migration.UpdateSetLimits,
		func(ctx workflow.Context, u migration.LimitsUpdate) (migration.Limits, error) {
			l := u.Apply(*j.st.Limits)
			j.st.Limits = &l
			j.logger.Info("Limits changed", "qps", l.QPS, "bandwidthBytesPerSecond", l.BandwidthBytesPerSecond,
				"windows", len(l.Windows))
			return l, nil
		},
		workflow.UpdateHandlerOptions{Validator: func(_ workflow.Context, u migration.LimitsUpdate) error {
			if err := u.Validate(); err != nil {
				return fmt.Errorf("invalid limits: %w", err)
			}
			return nil
		}},
	)
	if err != nil {
		return fmt.Errorf("register setLimits update: %w", err)
	}
	return nil
}
