// Package jobclient is what every front end does to a migration job through
// Temporal: start, status, wait, pause, resume, cancel, limits, retry,
// failures export, dry run and listing. The starter command line and the
// web console both call it, so that a job behaves the same from either.
package jobclient

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/bucketferry/bucketferry/migration"
)

// Client is the part of client.Client the job operations use.
type Client interface {
	ExecuteWorkflow(ctx context.Context, options client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error)
	GetWorkflow(ctx context.Context, workflowID, runID string) client.WorkflowRun
	QueryWorkflow(ctx context.Context, workflowID, runID, queryType string, args ...any) (converter.EncodedValue, error)
	CancelWorkflow(ctx context.Context, workflowID, runID string) error
	DescribeWorkflowExecution(ctx context.Context, workflowID, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error)
	GetWorkflowHistory(ctx context.Context, workflowID, runID string, isLongPoll bool, filterType enumspb.HistoryEventFilterType) client.HistoryEventIterator
	OperatorService() operatorservice.OperatorServiceClient
}

// Updater is the part of client.Client pause, resume and limits changes use.
type Updater interface {
	UpdateWorkflow(ctx context.Context, options client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error)
}

// QueryTimeout bounds a query: with no worker polling the task queue, a
// query waits until its deadline.
const QueryTimeout = 10 * time.Second

// ControlTimeout bounds a pause or resume: a worker must run the update.
const ControlTimeout = 30 * time.Second

// Describe returns the job's current run, or an error saying it does not
// exist.
func Describe(ctx context.Context, c Client, id string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	d, err := c.DescribeWorkflowExecution(ctx, id, "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return nil, fmt.Errorf("job %q not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("describe job %q: %w", id, err)
	}
	return d, nil
}

// IsRunning tells whether a described run is still running.
func IsRunning(d *workflowservice.DescribeWorkflowExecutionResponse) bool {
	return d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
}

// ExecutionStatus is Temporal's word for a run's state, in lower case.
func ExecutionStatus(d *workflowservice.DescribeWorkflowExecutionResponse) string {
	return StatusWord(d.GetWorkflowExecutionInfo().GetStatus())
}

// StatusWord is Temporal's word for an execution status, in lower case.
func StatusWord(s enumspb.WorkflowExecutionStatus) string {
	switch s {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		return "running"
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return "completed"
	case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
		return "failed"
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return "canceled"
	case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		return "terminated"
	case enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		return "timed out"
	case enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
		return "continued as new"
	}
	return "unknown"
}

// Progress asks a running job for its progress.
func Progress(ctx context.Context, c Client, id string) (migration.Progress, error) {
	ctx, cancel := context.WithTimeout(ctx, QueryTimeout)
	defer cancel()
	var p migration.Progress
	v, err := c.QueryWorkflow(ctx, id, "", migration.QueryProgress)
	if err == nil {
		err = v.Get(&p)
	}
	if err != nil {
		if ctx.Err() != nil {
			return p, fmt.Errorf("no answer to the progress query within %s: is a worker polling task queue %q?", QueryTimeout, migration.TaskQueue)
		}
		return p, fmt.Errorf("progress query: %w", err)
	}
	return p, nil
}

// Outcome is how a job ended: its result, or the error it ended with.
type Outcome struct {
	Result migration.JobResult
	Err    error // the workflow failed, was canceled, terminated or timed out
}

// Wait blocks until the job (following its continue-as-new runs) ends.
// The error it returns is about waiting itself (interrupted, unreachable
// server); the job's own failure is in the outcome.
func Wait(ctx context.Context, c Client, id string) (Outcome, error) {
	var o Outcome
	err := c.GetWorkflow(ctx, id, "").Get(ctx, &o.Result)
	if ctx.Err() != nil {
		return o, ctx.Err()
	}
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return o, fmt.Errorf("job %q not found", id)
		}
		if !IsWorkflowOutcome(err) {
			return o, fmt.Errorf("wait for job %q: %w", id, err)
		}
		o.Err = err
	}
	return o, nil
}

// IsWorkflowOutcome tells the ways a workflow ends from errors in reaching
// the server.
func IsWorkflowOutcome(err error) bool {
	var (
		app        *temporal.ApplicationError
		canceled   *temporal.CanceledError
		terminated *temporal.TerminatedError
		timeout    *temporal.TimeoutError
		panicked   *temporal.PanicError
		exec       *temporal.WorkflowExecutionError
	)
	return errors.As(err, &app) || errors.As(err, &canceled) || errors.As(err, &terminated) ||
		errors.As(err, &timeout) || errors.As(err, &panicked) || errors.As(err, &exec)
}

// DescribeOutcomeError says in a few words why a job ended without a
// result, without the SDK's wrapping of workflow and run ids.
func DescribeOutcomeError(err error) string {
	var (
		app        *temporal.ApplicationError
		canceled   *temporal.CanceledError
		terminated *temporal.TerminatedError
		timeout    *temporal.TimeoutError
	)
	switch {
	case errors.As(err, &canceled):
		return "canceled"
	case errors.As(err, &terminated):
		return "terminated"
	case errors.As(err, &timeout):
		return "timed out"
	case errors.As(err, &app):
		if app.Message() != "" {
			return app.Message()
		}
		return app.Error()
	}
	return err.Error()
}

// FailedPhrase completes "job X ..." for a job that ended without a
// result.
func FailedPhrase(err error) string {
	s := DescribeOutcomeError(err)
	switch s {
	case "canceled", "terminated", "timed out":
		return "was " + s
	}
	return "failed: " + s
}

// Cancel asks a running job to stop: it cancels its shards and ends as
// canceled.
func Cancel(ctx context.Context, c Client, id string) error {
	d, err := Describe(ctx, c, id)
	if err != nil {
		return err
	}
	if !IsRunning(d) {
		return fmt.Errorf("job %s is not running (%s); nothing to cancel", id, ExecutionStatus(d))
	}
	if err := c.CancelWorkflow(ctx, id, ""); err != nil {
		return fmt.Errorf("cancel job %s: %w", id, err)
	}
	return nil
}

// Control runs a pause or resume update (migration.UpdatePause,
// migration.UpdateResume) on a job and waits for its answer.
func Control(ctx context.Context, c Updater, id, update string) (migration.ControlResult, error) {
	ctx, cancel := context.WithTimeout(ctx, ControlTimeout)
	defer cancel()
	var res migration.ControlResult
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   id,
		UpdateName:   update,
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(ctx, &res)
	}
	if err != nil {
		if ctx.Err() != nil {
			return res, fmt.Errorf("%s job %s: no answer within %s: is a worker polling task queue %q?", update, id, ControlTimeout, migration.TaskQueue)
		}
		return res, fmt.Errorf("%s job %s: %w", update, id, err)
	}
	return res, nil
}

// LimitsClient is the part of client.Client the limits operations use.
type LimitsClient interface {
	QueryWorkflow(ctx context.Context, workflowID, runID, queryType string, args ...any) (converter.EncodedValue, error)
	Updater
}

// Limits asks a running job for its limits.
func Limits(ctx context.Context, c LimitsClient, id string) (migration.Limits, error) {
	ctx, cancel := context.WithTimeout(ctx, QueryTimeout)
	defer cancel()
	var l migration.Limits
	v, err := c.QueryWorkflow(ctx, id, "", migration.QueryLimits)
	if err == nil {
		err = v.Get(&l)
	}
	if err != nil {
		return l, limitsError(ctx, id, "query", err)
	}
	return l, nil
}

// SetLimits changes a running job's limits (an update the job validates)
// and returns the limits now in force.
func SetLimits(ctx context.Context, c LimitsClient, id string, u migration.LimitsUpdate) (migration.Limits, error) {
	var l migration.Limits
	if err := u.Validate(); err != nil {
		return l, fmt.Errorf("invalid limits: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, QueryTimeout)
	defer cancel()
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   id,
		UpdateName:   migration.UpdateSetLimits,
		Args:         []any{u},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(ctx, &l)
	}
	if err != nil {
		return l, limitsError(ctx, id, "update", err)
	}
	return l, nil
}

func limitsError(ctx context.Context, id, what string, err error) error {
	var nf *serviceerror.NotFound
	switch {
	case errors.As(err, &nf):
		return fmt.Errorf("job %q not found, or not running", id)
	case ctx.Err() != nil:
		return fmt.Errorf("no answer to the limits %s within %s: is the job running and a worker polling task queue %q?", what, QueryTimeout, migration.TaskQueue)
	}
	return fmt.Errorf("limits %s of job %s: %w", what, id, err)
}

// SpecOf reads the spec a job's current run was started with from its
// history, so that no worker need answer a query.
func SpecOf(ctx context.Context, c Client, id string) (migration.JobSpec, error) {
	in, err := InputOf(ctx, c, id, "")
	return in.Spec, err
}

// InputOf reads the input of a job's run ("": the current one) from the
// first event of its history.
func InputOf(ctx context.Context, c Client, id, runID string) (migration.JobInput, error) {
	var in migration.JobInput
	it := c.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	if !it.HasNext() {
		return in, fmt.Errorf("job %s: empty history", id)
	}
	ev, err := it.Next()
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return in, fmt.Errorf("job %q not found", id)
	}
	if err != nil {
		return in, fmt.Errorf("job %s: read history: %w", id, err)
	}
	attrs := ev.GetWorkflowExecutionStartedEventAttributes()
	if attrs == nil {
		return in, fmt.Errorf("job %s: history does not begin with the start event", id)
	}
	if err := converter.GetDefaultDataConverter().FromPayloads(attrs.GetInput(), &in); err != nil {
		return in, fmt.Errorf("job %s: decode its input: %w", id, err)
	}
	return in, nil
}

// Summary is the job's one-line description: source -> destination.
func Summary(spec migration.JobSpec) string {
	return spec.Source.String() + " -> " + spec.Destination.String()
}

// StartOptions are the options a job is started with.
func StartOptions(id string, spec migration.JobSpec) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:        id,
		TaskQueue: migration.TaskQueue,
		// Starting a job id that runs attaches to it; one that already ran
		// is refused rather than silently copied again.
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		StaticSummary:                            Summary(spec),
	}
}

// Start starts a job (a running job of the same id is attached to).
func Start(ctx context.Context, c Client, id string, spec migration.JobSpec) (client.WorkflowRun, error) {
	run, err := c.ExecuteWorkflow(ctx, StartOptions(id, spec), migration.JobWorkflow, migration.JobInput{Spec: spec})
	if err != nil {
		return nil, fmt.Errorf("start job %s: %w", id, err)
	}
	return run, nil
}

// SearchAttributeTypes are the custom search attributes a job sets, with
// their types as documented in package migration.
func SearchAttributeTypes() map[string]enumspb.IndexedValueType {
	return map[string]enumspb.IndexedValueType{
		migration.SAStatus:        enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		migration.SASource:        enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		migration.SADestination:   enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		migration.SAObjectsCopied: enumspb.INDEXED_VALUE_TYPE_INT,
		migration.SABytesCopied:   enumspb.INDEXED_VALUE_TYPE_INT,
		migration.SAObjectsFailed: enumspb.INDEXED_VALUE_TYPE_INT,
	}
}

// RegisterSearchAttributes adds the job's search attributes to the
// namespace (adding existing ones is a no-op) and checks that each is
// there with its type: a job upserting an attribute of another type would
// have every workflow task fail. Where the operator API is denied (Temporal
// Cloud), attributes created beforehand still count.
func RegisterSearchAttributes(ctx context.Context, c Client, namespace string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	want := SearchAttributeTypes()
	_, addErr := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        namespace,
		SearchAttributes: want,
	})
	var exists *serviceerror.AlreadyExists
	if errors.As(addErr, &exists) {
		addErr = nil
	}
	list, listErr := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if listErr != nil {
		if addErr != nil {
			return fmt.Errorf("register in namespace %s: %w", namespace, addErr)
		}
		return nil
	}
	var missing, wrong []string
	for _, name := range slices.Sorted(maps.Keys(want)) {
		got, ok := list.GetCustomAttributes()[name]
		switch {
		case !ok:
			missing = append(missing, name)
		case got != want[name]:
			wrong = append(wrong, fmt.Sprintf("%s is %s, want %s", name, got, want[name]))
		}
	}
	if len(wrong) > 0 {
		return fmt.Errorf("namespace %s defines %s", namespace, strings.Join(wrong, ", "))
	}
	// Just added, an attribute may take a moment to be listed.
	if len(missing) > 0 && addErr != nil {
		return fmt.Errorf("register %s in namespace %s: %w", strings.Join(missing, ", "), namespace, addErr)
	}
	return nil
}

// NewJobID names a job after its start time, with a random suffix for jobs
// started in the same second.
func NewJobID(now time.Time) string {
	var b [2]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return "job-" + now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}
