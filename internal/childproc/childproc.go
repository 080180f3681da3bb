// Package childproc runs bucketferry's commands as child processes, the way
// users run them, so that tests can kill them for real (SIGKILL) and the
// benchmark can measure them (peak RSS, CPU), and both can read what they
// printed. Start, WaitFor, Stop and Wait are the test forms of Run, Await,
// Terminate and ExitCode.
package childproc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Proc is a running (or ended) child process.
type Proc struct {
	Name string
	cmd  *exec.Cmd
	out  tailBuffer
	done chan struct{}
	err  error
}

// Run starts argv with exactly the environment env (nil: this process's).
func Run(name string, env []string, argv ...string) (*Proc, error) {
	p := &Proc{Name: name, cmd: exec.Command(argv[0], argv[1:]...), done: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Start runs argv with the test's environment plus env, and kills it when
// the test ends.
func Start(t testing.TB, name string, env []string, argv ...string) *Proc {
	t.Helper()
	p, err := Run(name, append(os.Environ(), env...), argv...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p
}

// Output is what the process printed (the last few MiB), stdout and stderr
// together.
func (p *Proc) Output() string { return p.out.String() }

// PID is the process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Kill sends SIGKILL and waits for the process to end.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Terminate sends SIGTERM and waits up to timeout for the process to end;
// then it kills it and reports false.
func (p *Proc) Terminate(timeout time.Duration) bool {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return true
	case <-time.After(timeout):
		p.Kill()
		return false
	}
}

// Stop is Terminate with 30 s, failing the test when the process did not
// stop by itself.
func (p *Proc) Stop(t testing.TB) {
	t.Helper()
	if !p.Terminate(30 * time.Second) {
		t.Errorf("%s did not stop on SIGTERM", p.Name)
	}
}

// Exit waits for the process to end and returns how it ended.
func (p *Proc) Exit() error {
	<-p.done
	return p.err
}

// ExitCode waits up to timeout for the process to end and returns its
// exit code.
func (p *Proc) ExitCode(timeout time.Duration) (int, error) {
	select {
	case <-p.done:
	case <-time.After(timeout):
		return -1, fmt.Errorf("%s did not finish in %v:\n%s", p.Name, timeout, p.Output())
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0, nil
	case errors.As(p.err, &ee):
		return ee.ExitCode(), nil
	}
	return -1, fmt.Errorf("%s: %w", p.Name, p.err)
}

// Wait is ExitCode failing the test on a timeout.
func (p *Proc) Wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	code, err := p.ExitCode(timeout)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// Await waits until the process has printed text; it fails if the process
// exits or the timeout passes first.
func (p *Proc) Await(text string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for !strings.Contains(p.Output(), text) {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited (%v) before printing %q:\n%s", p.Name, p.err, text, p.Output())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not print %q within %v:\n%s", p.Name, text, timeout, p.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// WaitFor is Await failing the test.
func (p *Proc) WaitFor(t testing.TB, text string, timeout time.Duration) {
	t.Helper()
	if err := p.Await(text, timeout); err != nil {
		t.Fatal(err)
	}
}

// MaxRSS is the peak resident set of an ended process, in bytes (getrusage
// of the child, as /usr/bin/time -v reports it); 0 while it runs.
func (p *Proc) MaxRSS() int64 {
	if p.cmd.ProcessState == nil {
		return 0
	}
	if ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss * 1024 // KiB on Linux
	}
	return 0
}

// CPUSeconds is the CPU time (user and system) of an ended process.
func (p *Proc) CPUSeconds() float64 {
	if p.cmd.ProcessState == nil {
		return 0
	}
	return (p.cmd.ProcessState.UserTime() + p.cmd.ProcessState.SystemTime()).Seconds()
}

// tailBuffer keeps the last few MiB written to it: a million-object run
// must not grow its parent's memory with the child's log.
type tailBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

const (
	tailMax  = 4 << 20
	tailKeep = 1 << 20
)

func (l *tailBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > tailMax {
		tail := append([]byte(nil), l.b.Bytes()[l.b.Len()-tailKeep:]...)
		l.b.Reset()
		l.b.Write(tail)
	}
	return l.b.Write(p)
}

func (l *tailBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
