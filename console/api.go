package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/bucketferry/bucketferry/jobclient"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/schedule"
	"github.com/bucketferry/bucketferry/verify"
)

type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v) // the browser went away
}

func toJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// pageSize is the rows of a jobs or failures page.
const pageSize = 25

func intParam(r *http.Request, name string) int {
	n, err := strconv.Atoi(r.URL.Query().Get(name))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

type jobsPage struct {
	Jobs   []jobRow `json:"jobs"`
	Total  int      `json:"total"`
	Offset int      `json:"offset"`
	Size   int      `json:"size"`
}

// jobRow is a job with the links the pages show.
type jobRow struct {
	jobclient.Job
	WebURL string `json:"webUrl,omitempty"`
}

func (s *Server) row(j jobclient.Job) jobRow {
	r := jobRow{Job: j}
	if s.o.WebURL != nil {
		r.WebURL = s.o.WebURL(j.ID, j.RunID)
	}
	return r
}

func (s *Server) listJobs(_ http.ResponseWriter, r *http.Request, _ *session) (any, error) {
	f := jobclient.Filter{State: r.URL.Query().Get("state"), Text: r.URL.Query().Get("q")}
	if f.State != "" && !slices.Contains(jobclient.States(), f.State) {
		return nil, userError{fmt.Errorf("unknown state %q: want one of %s", f.State, strings.Join(jobclient.States(), ", "))}
	}
	offset := intParam(r, "offset")
	jobs, total, err := s.jobs.List(r.Context(), f, offset, pageSize)
	if err != nil {
		return nil, err
	}
	p := jobsPage{Jobs: []jobRow{}, Total: total, Offset: offset, Size: pageSize}
	for _, j := range jobs {
		p.Jobs = append(p.Jobs, s.row(j))
	}
	return p, nil
}

func (s *Server) getJob(_ http.ResponseWriter, r *http.Request, _ *session) (any, error) {
	j, err := s.jobs.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	return s.row(j), nil
}

func (s *Server) getShards(_ http.ResponseWriter, r *http.Request, _ *session) (any, error) {
	return s.jobs.Shards(r.Context(), r.PathValue("id"))
}

func (s *Server) getLimits(_ http.ResponseWriter, r *http.Request, _ *session) (any, error) {
	return jobclient.Limits(r.Context(), s.o.Client, r.PathValue("id"))
}

type failuresPage struct {
	Failures []migration.Failure `json:"failures"`
	Offset   int                 `json:"offset"`
	Size     int                 `json:"size"`
	More     bool                `json:"more"`
	Log      string              `json:"log"`
}

// getFailures reads one page of a job's failure log, those whose key,
// reason or kind hold the search text: the log is read as far as the page
// needs, whatever its length.
func (s *Server) getFailures(_ http.ResponseWriter, r *http.Request, _ *session) (any, error) {
	id := r.PathValue("id")
	loc, err := jobclient.LocateFailureLog(r.Context(), s.o.Client, id)
	if err != nil {
		return nil, err
	}
	st, err := s.o.Config.Store(loc.Store)
	if err != nil {
		return nil, fmt.Errorf("failure log store: %w", err)
	}
	dir := jobclient.FailuresDir(loc)
	q := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("q")))
	p := failuresPage{Failures: []migration.Failure{}, Offset: intParam(r, "offset"), Size: pageSize, Log: dir.String()}
	seen := 0
	_, err = jobclient.ExportFailures(r.Context(), st, dir.Prefix, jobclient.SinkFunc(func(f migration.Failure) error {
		if q != "" && !strings.Contains(strings.ToLower(f.Key), q) && !strings.Contains(strings.ToLower(f.Reason), q) && !strings.Contains(strings.ToLower(f.Kind), q) {
			return nil
		}
		seen++
		if seen <= p.Offset {
			return nil
		}
		if len(p.Failures) == p.Size {
			p.More = true
			return jobclient.ErrStopExport
		}
		p.Failures = append(p.Failures, f)
		return nil
	}))
	if err != nil {
		return nil, err
	}
	return p, nil
}

// exportFailures streams every failure of a job, as `starter failures`
// writes them, in any number.
func (s *Server) exportFailures(format string) apiFunc {
	return func(w http.ResponseWriter, r *http.Request, se *session) (any, error) {
		id := r.PathValue("id")
		loc, err := jobclient.LocateFailureLog(r.Context(), s.o.Client, id)
		if err != nil {
			return nil, err
		}
		st, err := s.o.Config.Store(loc.Store)
		if err != nil {
			return nil, fmt.Errorf("failure log store: %w", err)
		}
		ctype := "text/csv; charset=utf-8"
		if format == jobclient.FormatJSONL {
			ctype = "application/jsonl"
		}
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", safeFileName(id)+"-failures."+format))
		w.Header().Set("Cache-Control", "no-store")
		n, err := jobclient.ExportFailures(r.Context(), st, jobclient.FailuresDir(loc).Prefix, jobclient.NewFailureSink(format, w))
		if err != nil {
			// The status is sent: the cut download is the sign.
			s.o.Logger.Warn("console: failures export cut", "job", id, "user", se.user, "after", n, "error", err)
			return nil, nil
		}
		s.o.Logger.Info("console: failures exported", "job", id, "user", se.user, "format", format, "failures", n)
		return nil, nil
	}
}

func safeFileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r == '.' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			return r
		}
		return '_'
	}, s)
}

// jobForm is the new-job form, as the page posts it (JSON).
type jobForm struct {
	JobID             string   `json:"jobId"`
	SourceStore       string   `json:"sourceStore"`
	SourcePrefix      string   `json:"sourcePrefix"`
	DestinationStore  string   `json:"destinationStore"`
	DestinationPrefix string   `json:"destinationPrefix"`
	Conflict          string   `json:"conflict"`
	Include           []string `json:"include"`
	Exclude           []string `json:"exclude"`
	StorageClass      string   `json:"storageClass"`
	QPS               float64  `json:"qps"`
	Bandwidth         string   `json:"bandwidth"`
	Windows           []string `json:"windows"`
}

func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return userError{fmt.Errorf("bad request: %w", err)}
	}
	return nil
}

func nonEmpty(l []string) []string {
	var out []string
	for _, s := range l {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// readJobForm reads the new-job form and the job it describes.
func readJobForm(r *http.Request) (jobForm, migration.JobSpec, error) {
	var f jobForm
	if err := decodeJSON(r, &f); err != nil {
		return f, migration.JobSpec{}, err
	}
	spec, err := f.spec()
	return f, spec, err
}

func (f jobForm) spec() (migration.JobSpec, error) {
	spec := migration.JobSpec{
		Source:       migration.Location{Store: strings.TrimSpace(f.SourceStore), Prefix: f.SourcePrefix},
		Destination:  migration.Location{Store: strings.TrimSpace(f.DestinationStore), Prefix: f.DestinationPrefix},
		Conflict:     migration.ConflictPolicy(f.Conflict),
		StorageClass: strings.TrimSpace(f.StorageClass),
	}
	spec.Filters.Include = nonEmpty(f.Include)
	spec.Filters.Exclude = nonEmpty(f.Exclude)
	lu, err := limitsOf(f.QPS, f.Bandwidth, f.Windows, true)
	if err != nil {
		return spec, err
	}
	if lu.QPS != nil {
		spec.Limits.QPS = *lu.QPS
	}
	if lu.BandwidthBytesPerSecond != nil {
		spec.Limits.BandwidthBytesPerSecond = *lu.BandwidthBytesPerSecond
	}
	if lu.Windows != nil {
		spec.Limits.Windows = *lu.Windows
	}
	if err := spec.Validate(); err != nil {
		return spec, userError{fmt.Errorf("invalid job: %w", err)}
	}
	return spec, nil
}

// limitsOf reads limits from a form: the bandwidth as `starter -bandwidth`
// takes it, each window as -window does.
func limitsOf(qps float64, bandwidth string, windows []string, setWindows bool) (migration.LimitsUpdate, error) {
	var u migration.LimitsUpdate
	u.QPS = &qps
	if b := strings.TrimSpace(bandwidth); b != "" {
		n, err := jobclient.ParseBandwidth(b)
		if err != nil {
			return u, userError{fmt.Errorf("bandwidth: %w", err)}
		}
		u.BandwidthBytesPerSecond = &n
	} else {
		zero := int64(0)
		u.BandwidthBytesPerSecond = &zero
	}
	if setWindows {
		ws := []migration.BandwidthWindow{}
		for _, s := range nonEmpty(windows) {
			w, err := jobclient.ParseWindow(s)
			if err != nil {
				return u, userError{err}
			}
			ws = append(ws, w)
		}
		u.Windows = &ws
	}
	return u, nil
}

type planReply struct {
	Summary   string                `json:"summary"`
	Conflict  string                `json:"conflict"`
	Shards    []jobclient.ShardPlan `json:"shards"`
	Objects   int64                 `json:"objects"`
	Bytes     int64                 `json:"bytes"`
	Copies    int64                 `json:"copies"`
	CopyBytes int64                 `json:"copyBytes"`
}

// plan is the dry run of the new-job form: the plan's shards, objects and
// bytes, and what the conflict policy would copy. It writes nothing.
func (s *Server) plan(_ http.ResponseWriter, r *http.Request, _ *session) (any, error) {
	_, spec, err := readJobForm(r)
	if err != nil {
		return nil, err
	}
	full, plans, err := jobclient.DryRun(r.Context(), spec, s.o.Config, true, verify.DefaultWorkers)
	if err != nil {
		return nil, err
	}
	rep := planReply{Summary: jobclient.Summary(full), Conflict: string(full.Conflict), Shards: plans}
	for _, p := range plans {
		rep.Objects += p.Objects
		rep.Bytes += p.Bytes
		rep.Copies += p.Copies
		rep.CopyBytes += p.CopyBytes
	}
	return rep, nil
}

type startReply struct {
	ID    string `json:"id"`
	RunID string `json:"runId"`
}

func (s *Server) startJob(_ http.ResponseWriter, r *http.Request, _ *session) (any, error) {
	f, spec, err := readJobForm(r)
	if err != nil {
		return nil, err
	}
	id := strings.TrimSpace(f.JobID)
	if id == "" {
		id = jobclient.NewJobID(s.now())
	}
	// The job sets its search attributes when the namespace has them, as
	// `starter start` does; without them it is listed all the same.
	spec.SearchAttributes = jobclient.RegisterSearchAttributes(r.Context(), s.o.Client, s.o.Namespace) == nil
	if d, err := s.o.Client.DescribeWorkflowExecution(r.Context(), id, ""); err == nil {
		return nil, userError{fmt.Errorf("job %s exists (%s): a job id never runs twice", id, jobclient.ExecutionStatus(d))}
	}
	run, err := jobclient.Start(r.Context(), s.o.Client, id, spec)
	if err != nil {
		return nil, err
	}
	return startReply{ID: id, RunID: run.GetRunID()}, nil
}

func (s *Server) pause(_ http.ResponseWriter, r *http.Request, _ *session) (any, error) {
	return jobclient.Control(r.Context(), s.o.Client, r.PathValue("id"), migration.UpdatePause)
}

func (s *Server) resume(_ http.ResponseWriter, r *http.Request, _ *session) (any, error) {
	return jobclient.Control(r.Context(), s.o.Client, r.PathValue("id"), migration.UpdateResume)
}

func (s *Server) cancel(_ http.ResponseWriter, r *http.Request, _ *session) (any, error) {
	if err := jobclient.Cancel(r.Context(), s.o.Client, r.PathValue("id")); err != nil {
		return nil, err
	}
	return map[string]bool{"requested": true}, nil
}

// retry starts a job that copies again the failed objects of the job (or
// of its newest retry) and answers with the retry's id.
func (s *Server) retry(_ http.ResponseWriter, r *http.Request, _ *session) (any, error) {
	p, err := jobclient.PlanRetry(r.Context(), s.o.Client, r.PathValue("id"))
	if err != nil {
		return nil, userError{err}
	}
	if p.Failed == 0 {
		return nil, userError{fmt.Errorf("job %s has no failed objects: nothing to retry", p.From)}
	}
	run, err := jobclient.StartRetry(r.Context(), s.o.Client, p)
	if err != nil {
		return nil, err
	}
	return map[string]any{"id": p.ID, "runId": run.GetRunID(), "from": p.From, "failed": p.Failed}, nil
}

type limitsForm struct {
	QPS       float64  `json:"qps"`
	Bandwidth string   `json:"bandwidth"`
	Windows   []string `json:"windows"`
}

func (s *Server) setLimits(_ http.ResponseWriter, r *http.Request, _ *session) (any, error) {
	var f limitsForm
	if err := decodeJSON(r, &f); err != nil {
		return nil, err
	}
	u, err := limitsOf(f.QPS, f.Bandwidth, f.Windows, true)
	if err != nil {
		return nil, err
	}
	return jobclient.SetLimits(r.Context(), s.o.Client, r.PathValue("id"), u)
}

type scheduleForm struct {
	ID    string `json:"id"`
	Every string `json:"every"`
	Now   bool   `json:"now"`
}

// createSchedule makes a second-pass schedule of a job: its spec, with
// the conflict policy changed, every interval until deleted at cut-over.
func (s *Server) createSchedule(_ http.ResponseWriter, r *http.Request, _ *session) (any, error) {
	var f scheduleForm
	if err := decodeJSON(r, &f); err != nil {
		return nil, err
	}
	job := r.PathValue("id")
	every, err := time.ParseDuration(strings.TrimSpace(f.Every))
	if err != nil {
		return nil, userError{fmt.Errorf("interval %q: %w", f.Every, err)}
	}
	spec, err := jobclient.SpecOf(r.Context(), s.o.Client, job)
	if err != nil {
		return nil, err
	}
	id := strings.TrimSpace(f.ID)
	if id == "" {
		id = job + "-sync"
	}
	spec.Filters.Manifest = nil // a retry's scope is its failures; a second pass is the whole job
	spec.FailureLog = nil
	_, err = schedule.Create(r.Context(), s.o.Client, schedule.Options{ID: id, Spec: spec, Every: every, Now: f.Now})
	if errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return nil, userError{fmt.Errorf("schedule %s exists: delete it first", id)}
	}
	if err != nil {
		return nil, userError{err}
	}
	return map[string]string{"id": id}, nil
}

type scheduleRow struct {
	ID      string      `json:"id"`
	Every   string      `json:"every"`
	Paused  bool        `json:"paused"`
	Note    string      `json:"note"`
	Next    []time.Time `json:"next"`
	Recent  []string    `json:"recent"`
	Summary string      `json:"summary"`
}

// maxSchedules bounds the schedules listed.
const maxSchedules = 1000

// listSchedules lists the schedules that run jobs: the second passes.
func (s *Server) listSchedules(_ http.ResponseWriter, r *http.Request, _ *session) (any, error) {
	it, err := s.o.Client.ScheduleClient().List(r.Context(), client.ScheduleListOptions{PageSize: 100})
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	rows := []scheduleRow{}
	for it.HasNext() && len(rows) < maxSchedules {
		e, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("list schedules: %w", err)
		}
		if e.WorkflowType.Name != migration.JobWorkflow {
			continue
		}
		row := scheduleRow{ID: e.ID, Paused: e.Paused, Note: e.Note, Next: e.NextActionTimes, Recent: []string{}}
		if e.Spec != nil {
			for _, iv := range e.Spec.Intervals {
				row.Every = iv.Every.String()
			}
		}
		for _, a := range e.RecentActions {
			if a.StartWorkflowResult != nil {
				row.Recent = append(row.Recent, a.StartWorkflowResult.WorkflowID)
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func (s *Server) deleteSchedule(_ http.ResponseWriter, r *http.Request, _ *session) (any, error) {
	if err := schedule.Delete(r.Context(), s.o.Client, r.PathValue("id")); err != nil {
		return nil, err
	}
	return map[string]bool{"deleted": true}, nil
}
