package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
)

// Kind classifies a storage error by what a caller should do about it.
type Kind int

// Error kinds. The zero Kind is KindUnknown, treated as transient.
const (
	KindUnknown Kind = iota
	// KindNotFound: the object (or upload) does not exist. Permanent for
	// that object.
	KindNotFound
	// KindNoSuchBucket: the bucket does not exist. Fatal for a whole job.
	KindNoSuchBucket
	// KindAccessDenied: bad credentials or a wrong signature (or a 403 that
	// says no more). Fatal for a whole job.
	KindAccessDenied
	// KindThrottled: the service asked us to slow down. Retryable.
	KindThrottled
	// KindTransient: 5xx answers, resets, timeouts. Retryable.
	KindTransient
	// KindInvalid: the request can never succeed as made (object too large,
	// metadata over the limit, bad part). Permanent.
	KindInvalid
	// KindArchived: the object is archived and not restored. Permanent until
	// a restore completes.
	KindArchived
	// KindChanged: the source object changed while it was being copied.
	// Retryable: a fresh copy reads the new version.
	KindChanged
	// KindCorrupt: checksums or sizes disagree. Retryable, since the cause
	// is usually a damaged transfer, but never reported as success.
	KindCorrupt
	// KindForbidden: the credentials are valid but this request is not
	// allowed (an object's ACL, a policy). Permanent, not fatal: other
	// objects may well be readable.
	KindForbidden
)

var kindNames = [...]string{
	KindUnknown:      "unknown",
	KindNotFound:     "not found",
	KindNoSuchBucket: "no such bucket",
	KindAccessDenied: "access denied",
	KindThrottled:    "throttled",
	KindTransient:    "transient",
	KindInvalid:      "invalid",
	KindArchived:     "archived",
	KindChanged:      "source changed",
	KindCorrupt:      "corrupt",
	KindForbidden:    "forbidden",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Retryable reports whether an operation that failed with this kind may
// succeed when tried again.
func (k Kind) Retryable() bool {
	switch k {
	case KindUnknown, KindThrottled, KindTransient, KindChanged, KindCorrupt:
		return true
	}
	return false
}

// Outage reports whether the kind is what a store that is out answers (or
// fails to answer): unreachable, 5xx, throttled. One object's problem (not
// found, forbidden, invalid) is not; neither is a checksum or a changed
// source, which are about the object in hand.
func (k Kind) Outage() bool { return k == KindTransient || k == KindThrottled }

// Fatal reports whether the kind means no object of the store can be moved
// (bad credentials, missing bucket), so a whole job should stop.
func (k Kind) Fatal() bool { return k == KindAccessDenied || k == KindNoSuchBucket }

// Error is a classified storage error.
type Error struct {
	Kind  Kind
	Store string // Store.Name() of the store that failed
	Op    string // operation, e.g. "put", "upload part"
	Key   string
	Code  string // provider error code, e.g. "SlowDown", when there is one
	Err   error
}

func (e *Error) Error() string {
	msg := e.Op
	if e.Store != "" {
		msg = e.Store + ": " + msg
	}
	if e.Key != "" {
		msg += fmt.Sprintf(" %q", e.Key)
	}
	msg += ": " + e.Kind.String()
	if e.Code != "" {
		msg += " (" + e.Code + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds a classified error.
func Errorf(kind Kind, store, op, key, format string, args ...any) *Error {
	return &Error{Kind: kind, Store: store, Op: op, Key: key, Err: fmt.Errorf(format, args...)}
}

// KindOf classifies any error: a *Error anywhere in the chain gives its kind;
// network failures are transient; cancellation is not retryable here (the
// caller stopped on purpose) and reports KindUnknown with Retryable false via
// IsRetryable.
func KindOf(err error) Kind {
	if err == nil {
		return KindUnknown
	}
	var se *Error
	if errors.As(err, &se) {
		return se.Kind
	}
	if isNetworkError(err) {
		return KindTransient
	}
	return KindUnknown
}

// IsRetryable reports whether err is worth retrying. Cancellation and
// deadline errors of the caller's own context are not.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	return KindOf(err).Retryable()
}

// IsOutage reports whether err may mean that the whole store is out rather
// than that the object in hand has a problem (see Kind.Outage). The
// caller's own cancellation is not an outage.
func IsOutage(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	return KindOf(err).Outage()
}

// StoreOf is the Store.Name() of the store a classified error came from, or
// "" when err says nothing of it.
func StoreOf(err error) string {
	var se *Error
	if errors.As(err, &se) {
		return se.Store
	}
	return ""
}

// IsFatal reports whether err means the whole store is unusable.
func IsFatal(err error) bool { return KindOf(err).Fatal() }

// IsNotFound reports whether err means the object does not exist.
func IsNotFound(err error) bool { return KindOf(err) == KindNotFound }

func isNetworkError(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, context.DeadlineExceeded)
}

// KindForHTTP maps an HTTP status and provider error code to a Kind. Both
// OSS and COS use S3-style codes, so one table serves every HTTP backend.
func KindForHTTP(status int, code string) Kind {
	switch code {
	case "NoSuchBucket":
		return KindNoSuchBucket
	case "NoSuchKey", "NoSuchUpload":
		return KindNotFound
	case "SignatureDoesNotMatch", "InvalidAccessKeyId", "InvalidSecretId", "InvalidAccessKeyIdError",
		"RequestTimeTooSkewed", "InvalidSecurityToken", "ExpiredToken":
		return KindAccessDenied
	case "AccessDenied", "AccessForbidden":
		return KindForbidden
	case "SlowDown", "RequestLimitExceeded", "Throttling", "TooManyRequests":
		return KindThrottled
	case "InvalidObjectState":
		return KindArchived
	case "PreconditionFailed":
		return KindChanged
	case "InvalidDigest", "BadDigest", "CrcCheckFailed":
		return KindCorrupt
	case "InternalError", "ServiceUnavailable", "RequestTimeout":
		return KindTransient
	}
	switch {
	case status == 404:
		return KindNotFound
	case status == 401 || status == 403:
		return KindAccessDenied
	case status == 429 || status == 503:
		return KindThrottled
	case status >= 500:
		return KindTransient
	case status == 412:
		return KindChanged
	case status >= 400:
		return KindInvalid
	}
	return KindUnknown
}
