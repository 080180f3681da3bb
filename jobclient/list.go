package jobclient

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/bucketferry/bucketferry/migration"
)

// ListClient is what listing jobs needs of client.Client.
type ListClient interface {
	Client
	Updater
	ListWorkflow(ctx context.Context, request *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error)
}

// States of a job as the console and the listing show them: the job's own
// status while it runs or once it completed, else how its run ended.
const (
	StatePlanning  = "planning"
	StateRunning   = "running"
	StatePaused    = "paused"
	StateStalled   = "stalled"
	StateSucceeded = "succeeded"
	StatePartial   = "completed with failures"
	StateFailed    = "failed"
	StateCancelled = "cancelled"
	StateEnded     = "ended" // terminated or timed out
)

// States lists the states a listing can be filtered by.
func States() []string {
	return []string{StateRunning, StatePaused, StateStalled, StateSucceeded, StatePartial, StateFailed, StateCancelled}
}

// Job is a job as a listing shows it.
type Job struct {
	ID      string `json:"id"`
	RunID   string `json:"runId"`
	Summary string `json:"summary"` // source -> destination
	// RetryOf is the job this one retries, for a retry.
	RetryOf string                `json:"retryOf,omitempty"`
	State   string                `json:"state"`
	Started time.Time             `json:"started"`
	Ended   time.Time             `json:"ended,omitzero"`
	Counts  migration.Counts      `json:"counts"`
	Shards  migration.ShardCounts `json:"shards"`
	// Rates while it runs; ETA in seconds, 0 when unknown.
	BytesPerSecond   float64 `json:"bytesPerSecond"`
	ObjectsPerSecond float64 `json:"objectsPerSecond"`
	ETA              float64 `json:"eta"`
	// Problem says why the figures are missing (no worker answers).
	Problem  string              `json:"problem,omitempty"`
	Error    string              `json:"error,omitempty"`
	Progress *migration.Progress `json:"progress,omitempty"`
	// InFlight is what pages and large objects under way have done.
	InFlight *InFlight            `json:"inFlight,omitempty"`
	Result   *migration.JobResult `json:"result,omitempty"`
}

// Filter narrows a listing.
type Filter struct {
	State string // one of States, or "" for all
	Text  string // a substring of the id or the summary, any case
}

// maxListed bounds the executions one listing reads from visibility.
const maxListed = 20000

// listQueryTimeout bounds the progress query of each running job listed:
// a listing must not wait QueryTimeout for each job no worker answers.
const listQueryTimeout = 3 * time.Second

// Lister lists jobs. It keeps what never changes (the summary and result
// of a closed run) so that a console refreshing every second reads each
// ended job's history once.
type Lister struct {
	C         ListClient
	Namespace string

	mu        sync.Mutex
	closed    map[string]Job    // by run id
	summaries map[string]string // by run id: a run's input never changes
}

// List returns one page of jobs, newest first, and the number of jobs that
// match in all. A job started with the Temporal CLI's plain JSON (without
// search attributes) is listed like any other: the listing is by workflow
// type, and the summary comes from the job's input when no attribute
// carries it. Shard workflows are not jobs.
func (l *Lister) List(ctx context.Context, f Filter, offset, limit int) ([]Job, int, error) {
	query := fmt.Sprintf("WorkflowType = %q", migration.JobWorkflow)
	switch f.State {
	case StateRunning, StatePaused, StateStalled:
		query += " AND ExecutionStatus = 'Running'"
	case StateSucceeded, StatePartial:
		query += " AND ExecutionStatus = 'Completed'"
	case StateFailed:
		query += " AND ExecutionStatus = 'Failed'"
	case StateCancelled:
		query += " AND ExecutionStatus = 'Canceled'"
	case "":
	default:
		return nil, 0, fmt.Errorf("unknown state %q: want one of %s", f.State, strings.Join(States(), ", "))
	}
	var execs []*workflowpb.WorkflowExecutionInfo
	var token []byte
	for {
		resp, err := l.C.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: l.Namespace, Query: query, PageSize: 1000, NextPageToken: token,
		})
		if err != nil {
			return nil, 0, fmt.Errorf("list jobs: %w", err)
		}
		execs = append(execs, resp.GetExecutions()...)
		token = resp.GetNextPageToken()
		if len(token) == 0 || len(execs) >= maxListed {
			break
		}
	}
	slices.SortStableFunc(execs, func(a, b *workflowpb.WorkflowExecutionInfo) int {
		return b.GetStartTime().AsTime().Compare(a.GetStartTime().AsTime())
	})
	text := strings.ToLower(strings.TrimSpace(f.Text))
	needState := f.State == StatePaused || f.State == StateStalled || f.State == StateRunning ||
		f.State == StateSucceeded || f.State == StatePartial
	var page []*workflowpb.WorkflowExecutionInfo
	total := 0
	for _, e := range execs {
		if text != "" || needState {
			j := l.job(ctx, e, needState)
			if text != "" && !strings.Contains(strings.ToLower(j.ID), text) && !strings.Contains(strings.ToLower(j.Summary), text) {
				continue
			}
			if needState && j.State != f.State && !(f.State == StateRunning && j.State == StatePlanning) {
				continue
			}
		}
		total++
		if total > offset && len(page) < limit {
			page = append(page, e)
		}
	}
	// The figures of the page's jobs, at once: each running job is a query
	// that waits up to listQueryTimeout when no worker answers.
	jobs := make([]Job, len(page))
	var wg sync.WaitGroup
	for i, e := range page {
		wg.Go(func() { jobs[i] = l.job(ctx, e, true) })
	}
	wg.Wait()
	return jobs, total, nil
}

// Get returns one job with its figures.
func (l *Lister) Get(ctx context.Context, id string) (Job, error) {
	d, err := Describe(ctx, l.C, id)
	if err != nil {
		return Job{}, err
	}
	if d.GetWorkflowExecutionInfo().GetType().GetName() != migration.JobWorkflow {
		return Job{}, fmt.Errorf("%s is not a job (a %s workflow)", id, d.GetWorkflowExecutionInfo().GetType().GetName())
	}
	return l.job(ctx, d.GetWorkflowExecutionInfo(), true), nil
}

// job makes the row of an execution; with figures, it asks a running job
// for its progress (a query a worker answers) or reads a closed one's
// result.
func (l *Lister) job(ctx context.Context, e *workflowpb.WorkflowExecutionInfo, figures bool) Job {
	id, run := e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId()
	l.mu.Lock()
	j, ok := l.closed[run]
	l.mu.Unlock()
	if ok {
		return j
	}
	j = Job{ID: id, RunID: run, RetryOf: RetryOf(id), Started: e.GetStartTime().AsTime(), Summary: summaryOf(e.GetSearchAttributes())}
	if e.GetCloseTime() != nil {
		j.Ended = e.GetCloseTime().AsTime()
	}
	if j.Summary == "" {
		j.Summary = l.summary(ctx, id, run)
	}
	switch e.GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		j.State = StateRunning
		if !figures {
			return j
		}
		qctx, cancel := context.WithTimeout(ctx, listQueryTimeout)
		p, err := Progress(qctx, l.C, id)
		cancel()
		if err != nil {
			j.Problem = "no worker answers the progress query"
			return j
		}
		j.setProgress(p)
		if f, err := InFlightOf(ctx, l.C, l.Namespace, id); err == nil && f.Copies > 0 {
			j.InFlight = &f
		}
		return j
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		o, err := Wait(ctx, l.C, id)
		if err != nil {
			j.State, j.Problem = StateEnded, err.Error()
			return j
		}
		if o.Err != nil {
			j.State, j.Error = StateFailed, DescribeOutcomeError(o.Err)
			break
		}
		r := o.Result
		j.Result, j.Counts, j.State = &r, r.Counts, string(r.Status)
		j.Shards = migration.ShardCounts{Total: r.Shards, Done: r.Shards}
		if !r.Started.IsZero() {
			j.Started = r.Started
		}
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		j.State = StateCancelled
	case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
		j.State = StateFailed
		if o, err := Wait(ctx, l.C, id); err == nil && o.Err != nil {
			j.Error = DescribeOutcomeError(o.Err)
		}
	default:
		j.State = StateEnded
		j.Error = StatusWord(e.GetStatus())
	}
	if e.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW {
		l.mu.Lock()
		if l.closed == nil {
			l.closed = make(map[string]Job)
		}
		if len(l.closed) >= maxListed {
			clear(l.closed) // a cache: a console that lists more jobs reads some twice
		}
		l.closed[run] = j
		l.mu.Unlock()
	}
	return j
}

// summary reads source -> destination from a run's input, once per run:
// a job started without search attributes has it nowhere else.
func (l *Lister) summary(ctx context.Context, id, run string) string {
	l.mu.Lock()
	s, ok := l.summaries[run]
	l.mu.Unlock()
	if ok {
		return s
	}
	in, err := InputOf(ctx, l.C, id, run)
	if err != nil {
		return ""
	}
	s = Summary(in.Spec)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.summaries == nil || len(l.summaries) >= maxListed {
		l.summaries = make(map[string]string) // a cache: beyond its size, some are read twice
	}
	l.summaries[run] = s
	return s
}

func (j *Job) setProgress(p migration.Progress) {
	j.Progress = &p
	j.State = string(p.Status)
	j.Counts, j.Shards = p.Counts, p.Shards
	j.BytesPerSecond, j.ObjectsPerSecond = p.BytesPerSecond, p.ObjectsPerSecond
	j.Error = p.Error
	if !p.Started.IsZero() {
		j.Started = p.Started
	}
	if eta, ok := EstimateRemaining(p.Shards, time.Since(j.Started)); ok {
		j.ETA = eta.Seconds()
	}
}

// EstimateRemaining extrapolates from the shards done: the only measure of
// the whole a job has, since nothing lists the source up front. It reports
// false while nothing is done (no basis) or everything is.
func EstimateRemaining(s migration.ShardCounts, elapsed time.Duration) (time.Duration, bool) {
	if s.Total <= 0 || s.Done <= 0 || s.Done >= s.Total || elapsed <= 0 {
		return 0, false
	}
	return time.Duration(float64(elapsed) * float64(s.Total-s.Done) / float64(s.Done)), true
}

// summaryOf is source -> destination from a job's search attributes, or
// "" when it has none.
func summaryOf(sa *commonpb.SearchAttributes) string {
	var src, dst string
	for name, p := range sa.GetIndexedFields() {
		var s string
		if converter.GetDefaultDataConverter().FromPayload(p, &s) != nil {
			continue
		}
		switch name {
		case migration.SASource:
			src = s
		case migration.SADestination:
			dst = s
		}
	}
	if src == "" && dst == "" {
		return ""
	}
	return src + " -> " + dst
}

// Shard is one shard workflow of a job.
type Shard struct {
	ID      string    `json:"id"`
	State   string    `json:"state"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended,omitzero"`
}

// maxShards bounds the shards a job page lists.
const maxShards = 5000

// Shards lists the shard workflows a job started, by their parent.
func (l *Lister) Shards(ctx context.Context, id string) ([]Shard, error) {
	query := fmt.Sprintf("WorkflowType = %q AND ParentWorkflowId = %q", migration.ShardWorkflow, id)
	var out []Shard
	var token []byte
	for {
		resp, err := l.C.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: l.Namespace, Query: query, PageSize: 1000, NextPageToken: token,
		})
		if err != nil {
			return nil, fmt.Errorf("list shards of %s: %w", id, err)
		}
		for _, e := range resp.GetExecutions() {
			s := Shard{ID: e.GetExecution().GetWorkflowId(), State: StatusWord(e.GetStatus()), Started: e.GetStartTime().AsTime()}
			if e.GetCloseTime() != nil {
				s.Ended = e.GetCloseTime().AsTime()
			}
			out = append(out, s)
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 || len(out) >= maxShards {
			break
		}
	}
	// A shard that continued as new is listed once per run: keep the newest.
	slices.SortStableFunc(out, func(a, b Shard) int {
		return cmp.Or(strings.Compare(a.ID, b.ID), b.Started.Compare(a.Started))
	})
	out = slices.CompactFunc(out, func(a, b Shard) bool { return a.ID == b.ID })
	return out, nil
}
