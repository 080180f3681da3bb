package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"github.com/bucketferry/bucketferry/console"
	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/jobclient"
	"github.com/bucketferry/bucketferry/migration"
)

// consoleEnv is a console served on loopback against the harness's
// Temporal server, and a headless chromium driving it.
type consoleEnv struct {
	h     *harness
	url   string
	audit *syncBuffer
	ctx   context.Context // the browser tab
	dl    string          // the browser's download directory
}

func newConsoleEnv(t *testing.T, h *harness, timeout time.Duration) *consoleEnv {
	t.Helper()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("these tests drive the console in Debian's chromium: apt-get install chromium (.ci/run does)")
	}
	hash := func(pw string) []byte {
		b, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	audit := &syncBuffer{}
	srv, err := console.New(console.Options{
		Client: h.c, Namespace: h.ts.GetDefaultNamespace(), Config: h.cfg,
		Users: []console.User{
			{Name: "ops", Role: console.RoleOperator, Hash: hash("ops-password")},
			{Name: "viewer", Role: console.RoleReader, Hash: hash("viewer-password")},
		},
		Logger: slog.New(slog.NewTextHandler(audit, nil)),
		WebURL: func(id, run string) string {
			return "http://127.0.0.1:1/namespaces/default/workflows/" + url.PathEscape(id)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv) // loopback
	t.Cleanup(ts.Close)

	e := &consoleEnv{h: h, url: ts.URL, audit: audit, dl: t.TempDir()}
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 1000),
		chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(tctx, timeout)
	t.Cleanup(func() {
		cancelTimeout()
		cancelTab()
		cancelAlloc() // kills chromium and waits for it
	})
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: e.dl}); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	e.ctx = ctx
	return e
}

func (e *consoleEnv) run(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(e.ctx, actions...); err != nil {
		html, _ := chromedp.Run(e.ctx, chromedp.OuterHTML(chromedp.CSS("main")))
		t.Fatalf("%s: %v\npage: %.3000s\naudit log:\n%s", what, err, html, e.audit.String())
	}
}

// waitText waits, up to the browser context's deadline, until the text of
// the element sel matches re.
func (e *consoleEnv) waitText(t *testing.T, sel string, re *regexp.Regexp, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	var got string
	for {
		ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		cancel()
		if err == nil {
			got = s
			if re.MatchString(s) {
				return s
			}
		}
		if time.Now().After(deadline) {
			html, _ := chromedp.Run(e.ctx, chromedp.OuterHTML(chromedp.CSS("main")))
			t.Fatalf("%s: text %q does not match %q within %v\npage: %.3000s\naudit log:\n%s", sel, got, re, within, html, e.audit.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitList waits until the elements sel, by their data-NAME attribute,
// are exactly want (in any order).
func (e *consoleEnv) waitList(t *testing.T, sel, name string, want []string, within time.Duration) {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	deadline := time.Now().Add(within)
	for {
		got, err := chromedp.Run(e.ctx, chromedp.Evaluate[[]string](fmt.Sprintf(`[...document.querySelectorAll(%q)].map(e => e.dataset[%q])`, sel, name)))
		slices.Sort(got)
		if err == nil && slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s lists %q (%v), want %q within %v", sel, got, err, want, within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (e *consoleEnv) attr(t *testing.T, sel chromedp.CSS, name string) string {
	t.Helper()
	a, err := chromedp.Run(e.ctx, chromedp.AttributeValue(sel, name))
	if err != nil {
		t.Fatalf("%s: %v", sel, err)
	}
	return a.Value
}

func (e *consoleEnv) signIn(t *testing.T, user, password string) {
	t.Helper()
	e.run(t, "sign in",
		chromedp.Navigate(e.url+"/"),
		chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.SendKeys(chromedp.CSS("#user"), user),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#jobs-page")),
	)
}

// fillForm fills the new-job form and previews it.
func (e *consoleEnv) newJob(t *testing.T, id, srcPrefix, dstPrefix, qps string) string {
	t.Helper()
	e.run(t, "open the new-job form",
		chromedp.Navigate(e.url+"/new"),
		chromedp.WaitVisible(chromedp.CSS("#job-form")),
		chromedp.SetValue(chromedp.CSS("#f-src"), "src"),
		chromedp.SetValue(chromedp.CSS("#f-dst"), "dst"),
		chromedp.SendKeys(chromedp.CSS("#f-src-prefix"), srcPrefix),
		chromedp.SendKeys(chromedp.CSS("#f-dst-prefix"), dstPrefix),
		chromedp.SendKeys(chromedp.CSS("#f-id"), id),
		chromedp.SetValue(chromedp.CSS("#f-qps"), qps),
		chromedp.Click(chromedp.CSS("#preview")),
		chromedp.WaitVisible(chromedp.CSS("#plan")),
	)
	summary := e.waitText(t, "#plan-summary", regexp.MustCompile(`objects`), 30*time.Second)
	e.run(t, "start the job",
		chromedp.WaitEnabled(chromedp.CSS("#start")),
		chromedp.Click(chromedp.CSS("#start")),
		chromedp.WaitVisible(chromedp.CSS("#job-page")),
	)
	return summary
}

// denyReads makes the source refuse to read the keys bad (403, as an
// object ACL does) until healed, when given, is set.
func (h *harness) denyReads(bad map[string]bool, healed *atomic.Bool) {
	h.emu.OSSFaults.Set(emulator.FaultConfig{Fail: func(r *http.Request) *emulator.APIError {
		if (healed != nil && healed.Load()) || r.Method != http.MethodGet {
			return nil
		}
		for k := range bad {
			if strings.HasSuffix(r.URL.Path, "/"+k) {
				return &emulator.APIError{Status: 403, Code: "AccessDenied", Message: "object ACL denies access"}
			}
		}
		return nil
	}})
}

// TestConsoleInBrowser drives the console in a real browser against a real
// Temporal server, a worker and the emulators: sign in; a job created with
// the form turns green; a job with unreadable objects (started as the
// Temporal CLI would, without search attributes) turns yellow, its
// failures are listed and exported exactly as `starter failures` writes
// them, and "retry failed" after the objects heal turns the retry green;
// pause, resume, a limits change and cancel take effect; a request without
// a session or without the CSRF token is refused, and a reader cannot act.
func TestConsoleInBrowser(t *testing.T) {
	h := newHarness(t)
	for _, ds := range []emulator.DataSet{
		{Objects: 120, MaxSize: 8 << 10, Prefix: "green/", Seed: 21},
		{Objects: 80, MaxSize: 8 << 10, Prefix: "yellow/", Seed: 22},
		{Objects: 400, MaxSize: 4 << 10, Prefix: "slow/", Seed: 23},
	} {
		if _, err := emulator.Generate(h.emu.Backend, srcBucket, ds); err != nil {
			t.Fatal(err)
		}
	}
	var yellow []string
	for _, k := range h.emu.Backend.Keys(srcBucket) {
		if strings.HasPrefix(k, "yellow/") {
			yellow = append(yellow, k)
		}
	}
	slices.Sort(yellow)
	bad := map[string]bool{yellow[2]: true, yellow[40]: true, yellow[79]: true}
	var healed atomic.Bool
	h.denyReads(bad, &healed)
	h.startWorker(t)
	starter, err := buildStarter(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := newConsoleEnv(t, h, 12*time.Minute)

	// No session: the pages answer with the login page, the API and the
	// actions with 401.
	resp, err := http.Get(e.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), `id="login-form"`) {
		t.Fatalf("GET / without a session: %s, want 401 and the login page:\n%.500s", resp.Status, body)
	}
	for _, u := range []string{"/api/jobs", "/jobs/x/failures.csv", "/api/jobs/x/pause"} {
		method := http.MethodGet
		if strings.HasSuffix(u, "/pause") {
			method = http.MethodPost
		}
		req, _ := http.NewRequest(method, e.url+u, strings.NewReader("{}"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s %s without a session: %s, want 401", method, u, resp.Status)
		}
	}

	e.signIn(t, "ops", "ops-password")

	// A job created with the form, after its dry run, turns green.
	summary := e.newJob(t, "console-green", "green/", "green-copy/", "0")
	if !strings.Contains(summary, "120 objects") {
		t.Errorf("dry run says %q, want the 120 objects of green/", summary)
	}
	e.waitText(t, "#state", regexp.MustCompile(`^succeeded$`), 3*time.Minute)
	var cls string
	cls = e.attr(t, chromedp.CSS("#state"), "class")
	if !strings.Contains(cls, "s-succeeded") {
		t.Errorf("a succeeded job's state has class %q, want s-succeeded (green)", cls)
	}
	e.waitText(t, "#copied", regexp.MustCompile(`^120 `), 10*time.Second)
	e.waitText(t, "#shard-rows", regexp.MustCompile(`completed`), 15*time.Second)
	if href := e.attr(t, chromedp.CSS("#web-link"), "href"); !strings.HasSuffix(href, "/workflows/console-green") {
		t.Errorf("the link to Temporal Web is %q", href)
	}

	// A second-pass schedule made from the job's page is listed on the
	// schedules page and deleted there at cut-over.
	e.run(t, "schedule a second pass", chromedp.Clear(chromedp.CSS("#sched-every")), chromedp.SendKeys(chromedp.CSS("#sched-every"), "1h"),
		chromedp.Click(chromedp.CSS("#sched-create")))
	e.waitText(t, "#action-result", regexp.MustCompile(`created schedule console-green-sync`), 30*time.Second)
	e.run(t, "schedules", chromedp.Navigate(e.url+"/schedules"), chromedp.WaitVisible(chromedp.CSS(`tr[data-schedule="console-green-sync"]`)))
	e.waitText(t, `tr[data-schedule="console-green-sync"] td:nth-child(2)`, regexp.MustCompile(`^1h0m0s$`), 10*time.Second)
	e.run(t, "delete the schedule", chromedp.Click(chromedp.CSS(`button[data-delete="console-green-sync"]`)),
		chromedp.Click(chromedp.CSS(`button[data-confirm="console-green-sync"]`)))
	e.waitText(t, "#action-result", regexp.MustCompile(`deleted schedule console-green-sync`), 30*time.Second)
	if _, err := h.c.ScheduleClient().GetHandle(context.Background(), "console-green-sync").Describe(context.Background()); err == nil {
		t.Error("the schedule deleted from the console still exists")
	}

	// A job started as the Temporal CLI starts the README's plain JSON (no
	// search attributes) with unreadable objects turns yellow in the list.
	spec := migration.JobSpec{Source: migration.Location{Store: "src", Prefix: "yellow/"}, Destination: migration.Location{Store: "dst", Prefix: "yellow-copy/"}, MaxAttempts: 2}
	h.startJob(t, "console-yellow", spec)
	e.run(t, "jobs list", chromedp.Navigate(e.url+"/"), chromedp.WaitVisible(chromedp.CSS("#jobs-page")))
	e.waitText(t, `tr[data-job="console-yellow"] .state`, regexp.MustCompile(`^completed with failures$`), 3*time.Minute)
	e.waitText(t, `tr[data-job="console-green"] .state`, regexp.MustCompile(`^succeeded$`), 10*time.Second)
	e.waitText(t, `tr[data-job="console-yellow"] td:nth-child(2)`, regexp.MustCompile(`^src:yellow/ -> dst:yellow-copy/$`), 10*time.Second)
	cls = e.attr(t, chromedp.CSS(`tr[data-job="console-yellow"] .state`), "class")
	if !strings.Contains(cls, "s-completed-with-failures") {
		t.Errorf("a job completed with failures has class %q, want s-completed-with-failures (yellow)", cls)
	}
	// Filters: by state and by text.
	e.run(t, "filter by state", chromedp.SetValue(chromedp.CSS("#state"), jobclient.StatePartial),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`document.getElementById("state").dispatchEvent(new Event("change"))`)(ctx, tg)
			return err
		}))
	e.waitList(t, `#jobs tr[data-job]`, "job", []string{"console-yellow"}, 10*time.Second)
	e.run(t, "filter by text", chromedp.SetValue(chromedp.CSS("#state"), ""), chromedp.SendKeys(chromedp.CSS("#q"), "green"))
	e.waitList(t, `#jobs tr[data-job]`, "job", []string{"console-green"}, 10*time.Second)

	// Its failures page lists exactly the unreadable objects.
	e.run(t, "open the yellow job", chromedp.Navigate(e.url+"/jobs/console-yellow"), chromedp.WaitVisible(chromedp.CSS("#job-page")))
	e.waitText(t, "#state", regexp.MustCompile(`^completed with failures$`), 30*time.Second)
	e.waitText(t, "#failure-count", regexp.MustCompile(`^\(3\)$`), 10*time.Second)
	var keys []string
	deadline := time.Now().Add(30 * time.Second)
	for len(keys) != 3 && time.Now().Before(deadline) {
		k, err := chromedp.Run(e.ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#failure-rows tr[data-key]")].map(r => r.dataset.key)`))
		if err != nil {
			t.Fatal(err)
		}
		keys = k
		time.Sleep(200 * time.Millisecond)
	}
	slices.Sort(keys)
	want := slices.Sorted(func(yield func(string) bool) {
		for k := range bad {
			if !yield(k) {
				return
			}
		}
	})
	if !slices.Equal(keys, want) {
		t.Fatalf("the failures page lists %q, want %q", keys, want)
	}
	// Search narrows the list.
	e.run(t, "search failures", chromedp.SendKeys(chromedp.CSS("#failure-q"), want[1]))
	e.waitList(t, `#failure-rows tr[data-key]`, "key", want[1:2], 10*time.Second)
	if dir := os.Getenv("BUCKETFERRY_SCREENSHOTS"); dir != "" {
		e.run(t, "clear the search", chromedp.Navigate(e.url+"/jobs/console-yellow"), chromedp.WaitVisible(chromedp.CSS("#failure-rows tr[data-key]")))
		e.screenshot(t, filepath.Join(dir, "console-job-failures.png"))
	}

	// The export downloads exactly what `starter failures` writes.
	e.run(t, "export", chromedp.Click(chromedp.CSS("#export-csv")))
	got := waitFile(t, filepath.Join(e.dl, "console-yellow-failures.csv"), time.Minute)
	cli, code := h.runStarter(t, starter, time.Minute, "failures", "console-yellow")
	if code != 0 {
		t.Fatalf("starter failures exited %d:\n%s", code, cli)
	}
	if string(got) != cli || strings.Count(cli, "\n") != 4 {
		t.Fatalf("the console's export differs from starter failures:\nconsole:\n%s\nstarter:\n%s", got, cli)
	}

	jsonl, err := chromedp.Run(e.ctx, chromedp.Evaluate[string](`fetch("/jobs/console-yellow/failures.jsonl").then(r => r.text())`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	cliJSONL, code := h.runStarter(t, starter, time.Minute, "failures", "console-yellow", "-format", "jsonl")
	if code != 0 || jsonl != cliJSONL {
		t.Fatalf("the console's JSON Lines export differs from starter failures -format jsonl (exit %d):\nconsole:\n%s\nstarter:\n%s", code, jsonl, cliJSONL)
	}

	// Healed, the failures are retried from the job's page: the retry is
	// green.
	healed.Store(true)
	e.run(t, "retry failed", chromedp.WaitEnabled(chromedp.CSS("#retry")), chromedp.Click(chromedp.CSS("#retry")))
	e.waitText(t, "#job-id", regexp.MustCompile(`^console-yellow-retry-1$`), 30*time.Second)
	e.waitText(t, "#retry-of", regexp.MustCompile(`retry of console-yellow`), 10*time.Second)
	e.waitText(t, "#state", regexp.MustCompile(`^succeeded$`), 3*time.Minute)
	e.waitText(t, "#copied", regexp.MustCompile(`^3 `), 10*time.Second)
	for k := range bad {
		if _, err := h.emu.Backend.Object(dstBucket, "yellow-copy/"+strings.TrimPrefix(k, "yellow/")); err != nil {
			t.Errorf("healed %q is not at the destination after the retry: %v", k, err)
		}
	}

	// A slow job (QPS 1, from the form): pause, resume, limits, cancel.
	e.newJob(t, "console-slow", "slow/", "slow-copy/", "1")
	e.waitText(t, "#state", regexp.MustCompile(`^running$`), time.Minute)
	e.run(t, "pause", chromedp.WaitEnabled(chromedp.CSS("#pause")), chromedp.Click(chromedp.CSS("#pause")))
	e.waitText(t, "#state", regexp.MustCompile(`^paused$`), time.Minute)
	if p, err := jobclient.Progress(context.Background(), h.c, "console-slow"); err != nil || p.Status != migration.StatusPaused {
		t.Fatalf("after pause the job says %q (%v)", p.Status, err)
	}
	e.run(t, "resume", chromedp.WaitEnabled(chromedp.CSS("#resume")), chromedp.Click(chromedp.CSS("#resume")))
	e.waitText(t, "#state", regexp.MustCompile(`^running$`), time.Minute)

	e.run(t, "limits", chromedp.SetValue(chromedp.CSS("#lim-qps"), "7"), chromedp.SendKeys(chromedp.CSS("#lim-bw"), "2MiB"),
		chromedp.Click(chromedp.CSS("#lim-apply")))
	e.waitText(t, "#limits-now", regexp.MustCompile(`QPS 7, bandwidth 2\.0 MiB/s`), 30*time.Second)
	if l, err := jobclient.Limits(context.Background(), h.c, "console-slow"); err != nil || l.QPS != 7 || l.BandwidthBytesPerSecond != 2<<20 {
		t.Fatalf("after the limits change the job has %+v (%v)", l, err)
	}

	if dir := os.Getenv("BUCKETFERRY_SCREENSHOTS"); dir != "" {
		e.run(t, "jobs list", chromedp.Navigate(e.url+"/"), chromedp.WaitVisible(chromedp.CSS(`tr[data-job="console-slow"]`)))
		e.screenshot(t, filepath.Join(dir, "console-jobs.png"))
		e.run(t, "back to the slow job", chromedp.Navigate(e.url+"/jobs/console-slow"), chromedp.WaitVisible(chromedp.CSS("#job-page")))
		e.waitText(t, "#state", regexp.MustCompile(`^running$`), 30*time.Second)
	}

	// Without the CSRF token, an action from the signed-in browser is
	// refused, and nothing changes.
	status, err := chromedp.Run(e.ctx, chromedp.Evaluate[int](`fetch("/api/jobs/console-slow/pause", {method: "POST", body: "{}", headers: {"Content-Type": "application/json"}}).then(r => r.status)`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusForbidden {
		t.Fatalf("a pause without the CSRF token answered %d, want 403", status)
	}
	if p, err := jobclient.Progress(context.Background(), h.c, "console-slow"); err != nil || p.Status == migration.StatusPaused {
		t.Fatalf("a refused pause paused the job: %q (%v)", p.Status, err)
	}
	// A reader signs in and may look, not act.
	readerAct(t, e.url)

	e.run(t, "cancel", chromedp.Click(chromedp.CSS("#cancel")), chromedp.WaitVisible(chromedp.CSS("#cancel-confirm")),
		chromedp.Click(chromedp.CSS("#cancel-yes")))
	e.waitText(t, "#state", regexp.MustCompile(`^cancelled$`), 2*time.Minute)
	if n := len(h.emu.Backend.Keys(srcBucket)); n == 0 {
		t.Fatal("no source")
	}

	// Every action is in the audit log with who did it.
	log := e.audit.String()
	for _, a := range []string{"start", "retry failed", "pause", "resume", "change limits", "cancel"} {
		if !strings.Contains(log, fmt.Sprintf("action=%q", a)) && !strings.Contains(log, "action="+a+" ") {
			t.Errorf("the audit log lacks action %q:\n%s", a, log)
		}
	}
	if !strings.Contains(log, "user=ops") || !strings.Contains(log, "action refused: no valid CSRF token") || !strings.Contains(log, "action refused: read-only user") {
		t.Errorf("the audit log lacks who acted or the refusals:\n%s", log)
	}
}

// readerAct signs in as the reader with a plain HTTP client: the pages and
// exports answer, an action with the CSRF token is refused all the same.
func readerAct(t *testing.T, base string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := c.PostForm(base+"/login", url.Values{"user": {"viewer"}, "password": {"viewer-password"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`<meta name="csrf" content="([^"]+)">`).FindSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("reader sign-in: %s\n%.500s", resp.Status, page)
	}
	var cookie *http.Cookie
	u, _ := url.Parse(base)
	for _, ck := range jar.Cookies(u) {
		cookie = ck
	}
	if cookie == nil {
		t.Fatal("no session cookie")
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/api/jobs/console-slow/pause", strings.NewReader("{}"))
	req.Header.Set("X-CSRF-Token", string(m[1]))
	req.Header.Set("Content-Type", "application/json")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var e struct{ Error string }
	_ = json.Unmarshal(b, &e)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(e.Error, "may only look") {
		t.Fatalf("a reader's pause answered %s %s, want 403", resp.Status, b)
	}
	resp, err = c.Get(base + "/api/jobs?q=console")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a reader cannot list jobs: %s", resp.Status)
	}
}

// waitFile waits until the browser has written a download completely.
func waitFile(t *testing.T, path string, within time.Duration) []byte {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if b, err := os.ReadFile(path); err == nil {
			return b
		}
		if time.Now().After(deadline) {
			entries, _ := os.ReadDir(filepath.Dir(path))
			t.Fatalf("%s not downloaded within %v (directory: %v)", path, within, entries)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (e *consoleEnv) screenshot(t *testing.T, path string) {
	t.Helper()
	time.Sleep(1500 * time.Millisecond) // a refresh or two, for the figures
	png, err := chromedp.Run(e.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestInFlightProgressMoves: a bandwidth-limited job whose one page takes
// many seconds shows progress before the page ends, in jobclient (which
// the console shows) and in `starter status`: the copies' heartbeats.
func TestInFlightProgressMoves(t *testing.T) {
	h := newHarness(t)
	if _, err := emulator.Generate(h.emu.Backend, srcBucket, emulator.DataSet{Objects: 40, MinSize: 200 << 10, MaxSize: 256 << 10, Prefix: "big/", Seed: 31}); err != nil {
		t.Fatal(err)
	}
	h.startWorker(t)
	starter, err := buildStarter(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	spec := migration.JobSpec{
		Source: migration.Location{Store: "src", Prefix: "big/"}, Destination: migration.Location{Store: "dst", Prefix: "big-copy/"},
		Shards: 1, Limits: migration.Limits{BandwidthBytesPerSecond: 512 << 10},
	}
	run := h.startJob(t, "inflight", spec)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var seen jobclient.InFlight
	for seen.Objects() == 0 {
		if ctx.Err() != nil {
			t.Fatal("no progress under way seen before the page ended")
		}
		p, err := jobclient.Progress(ctx, h.c, "inflight")
		if err != nil {
			t.Fatal(err)
		}
		if p.Counts.Objects() > 0 {
			t.Fatalf("the page ended (%+v) before any progress under way was seen", p.Counts)
		}
		f, err := jobclient.InFlightOf(ctx, h.c, h.ts.GetDefaultNamespace(), "inflight")
		if err != nil {
			t.Fatal(err)
		}
		if f.Objects() > 0 && f.Counts.BytesCopied > 0 {
			seen = f
		}
		time.Sleep(200 * time.Millisecond)
	}
	out, code := h.runStarter(t, starter, time.Minute, "status", "inflight")
	if code != 0 || !regexp.MustCompile(`underway +[1-9][0-9]* objects`).MatchString(out) {
		t.Errorf("starter status during the page: exit %d\n%s", code, out)
	}
	if _, err := h.wait(t, run, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
}
