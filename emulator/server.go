package emulator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Default S3 credentials of an emulator whose Config names none.
const (
	DefaultS3AccessKeyID     = "emulator-s3-ak"
	DefaultS3SecretAccessKey = "emulator-s3-secret"
)

// Config configures a stand-alone emulator: one backend behind an OSS, a COS
// and optionally an S3 front end, each on its own address with its own faults.
type Config struct {
	Dir            string // on-disk state; empty keeps everything in memory
	OSSAddr        string // e.g. "127.0.0.1:0"
	COSAddr        string
	OSSCredentials map[string]string // AccessKeyId -> secret
	COSCredentials map[string]string // SecretId -> SecretKey
	OSSFaults      FaultConfig
	COSFaults      FaultConfig
	// S3Addr starts the S3 front end when set (e.g. "127.0.0.1:0"); empty
	// leaves it off, so existing callers get the same two listeners.
	S3Addr string
	// S3Credentials maps access key id to secret access key; empty means
	// DefaultS3AccessKeyID / DefaultS3SecretAccessKey.
	S3Credentials map[string]string
	S3Faults      FaultConfig
	// OSSRestoreDelay is how long an OSS RestoreObject takes before the
	// archived object becomes readable; zero restores at once.
	OSSRestoreDelay time.Duration
	// Buckets are created at start: OSS buckets are plain names, COS ones
	// carry the APPID suffix (name-1250000000); both live in one backend.
	Buckets []string
	// DiscardBuckets are buckets whose written bodies are hashed and dropped
	// (Backend.DiscardBodies): benchmarks and scale runs write to them.
	DiscardBuckets []string
}

// Server is a running emulator.
type Server struct {
	Backend   *Backend
	OSSFaults *Faults
	COSFaults *Faults
	S3Faults  *Faults // configured even when the S3 front end is off
	ossURL    string
	cosURL    string
	s3URL     string
	servers   []*http.Server
}

// Start starts the emulator and returns once its front ends listen.
func Start(cfg Config) (*Server, error) {
	b, err := NewBackend(cfg.Dir)
	if err != nil {
		return nil, err
	}
	for _, name := range cfg.Buckets {
		if err := b.CreateBucket(name); err != nil {
			return nil, err
		}
	}
	for _, name := range cfg.DiscardBuckets {
		b.DiscardBodies(name)
	}
	s := &Server{Backend: b, OSSFaults: NewFaults(cfg.OSSFaults), COSFaults: NewFaults(cfg.COSFaults), S3Faults: NewFaults(cfg.S3Faults)}
	oss := &OSSFrontEnd{Backend: b, Credentials: cfg.OSSCredentials, RestoreDelay: cfg.OSSRestoreDelay}
	cos := &COSFrontEnd{Backend: b, Credentials: cfg.COSCredentials}
	if s.ossURL, err = s.listen(cfg.OSSAddr, s.OSSFaults.Wrap(oss, oss.WriteError)); err != nil {
		s.Close()
		return nil, fmt.Errorf("emulator: oss front end: %w", err)
	}
	if s.cosURL, err = s.listen(cfg.COSAddr, s.COSFaults.Wrap(cos, cos.WriteError)); err != nil {
		s.Close()
		return nil, fmt.Errorf("emulator: cos front end: %w", err)
	}
	if cfg.S3Addr != "" {
		creds := cfg.S3Credentials
		if len(creds) == 0 {
			creds = map[string]string{DefaultS3AccessKeyID: DefaultS3SecretAccessKey}
		}
		s3 := &S3FrontEnd{Backend: b, Credentials: creds}
		if s.s3URL, err = s.listen(cfg.S3Addr, s.S3Faults.Wrap(s3, s3.WriteError)); err != nil {
			s.Close()
			return nil, fmt.Errorf("emulator: s3 front end: %w", err)
		}
	}
	return s, nil
}

func (s *Server) listen(addr string, h http.Handler) (string, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	s.servers = append(s.servers, srv)
	go func() {
		// Serve returns ErrServerClosed on Close; nothing else is expected.
		_ = srv.Serve(ln)
	}()
	return "http://" + ln.Addr().String(), nil
}

// OSSURL is the OSS front end's endpoint, e.g. http://127.0.0.1:9000.
func (s *Server) OSSURL() string { return s.ossURL }

// COSURL is the COS front end's endpoint.
func (s *Server) COSURL() string { return s.cosURL }

// S3URL is the S3 front end's endpoint (path-style), or "" when Config.S3Addr
// was empty.
func (s *Server) S3URL() string { return s.s3URL }

// Close stops the front ends, cutting open connections.
func (s *Server) Close() error {
	var errs []error
	for _, srv := range s.servers {
		errs = append(errs, srv.Close())
	}
	return errors.Join(errs...)
}

// Shutdown stops the front ends gracefully.
func (s *Server) Shutdown(ctx context.Context) error {
	var errs []error
	for _, srv := range s.servers {
		errs = append(errs, srv.Shutdown(ctx))
	}
	return errors.Join(errs...)
}
