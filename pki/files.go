package pki

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// WriteFile writes data to path through a temporary file renamed over it,
// so that a server re-reading its certificate files on change never reads
// half a file. Keys get mode 0600, certificates 0644.
func WriteFile(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("pki: write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("pki: write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("pki: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("pki: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("pki: write %s: %w", path, err)
	}
	return nil
}

// Files are a server's certificate, key and client CA, re-read when any of
// them changes on disk: certificates are rotated by replacing the files,
// without restarting the server or stopping a job. Connections made before
// a rotation keep the certificates they were made with.
type Files struct {
	CertFile, KeyFile, CAFile string

	mu      sync.Mutex
	stamp   string // sizes and modification times of the three files
	checked time.Time
	cert    *tls.Certificate
	pool    *x509.CertPool
	// OnReload, when set, is told of every reload and of every failed one
	// (then the previous certificates stay in use).
	OnReload func(err error)
}

// recheck bounds how often the files are looked at: a handshake costs a
// few stats at most once a second.
const recheck = time.Second

// Load reads the files now, returning an error naming the file that
// cannot be used.
func (f *Files) Load() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.load(f.statStamp())
}

// Current returns the server certificate and client CA pool, reading the
// files again if they changed since the last read. A failed re-read (a file
// half replaced, a key not matching its certificate yet) keeps the
// previous ones.
func (f *Files) Current() (*tls.Certificate, *x509.CertPool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cert == nil || time.Since(f.checked) >= recheck {
		f.checked = time.Now()
		if stamp := f.statStamp(); stamp != f.stamp {
			err := f.load(stamp)
			if f.OnReload != nil && f.cert != nil {
				f.OnReload(err)
			}
			if f.cert == nil {
				return nil, nil, err
			}
		}
	}
	return f.cert, f.pool, nil
}

func (f *Files) statStamp() string {
	s := ""
	for _, p := range []string{f.CertFile, f.KeyFile, f.CAFile} {
		if fi, err := os.Stat(p); err == nil {
			s += fmt.Sprintf("%d/%d;", fi.Size(), fi.ModTime().UnixNano())
		} else {
			s += "missing;"
		}
	}
	return s
}

func (f *Files) load(stamp string) error {
	cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	if err != nil {
		return fmt.Errorf("server certificate %s and key %s: %w", f.CertFile, f.KeyFile, err)
	}
	caPEM, err := os.ReadFile(f.CAFile)
	if err != nil {
		return fmt.Errorf("client CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("client CA %s holds no PEM certificate", f.CAFile)
	}
	f.cert, f.pool, f.stamp = &cert, pool, stamp
	return nil
}
