package config

import "log/slog"

// redacted replaces a secret wherever a configuration is printed.
const redacted = "[redacted]"

// Secret is a credential. It prints, logs and marshals as "[redacted]" (or
// as nothing when empty), so that a configuration can be printed or logged
// whole; Value returns the credential itself.
type Secret string

// Value returns the secret in clear, for handing to an SDK.
func (s Secret) Value() string { return string(s) }

// String returns "[redacted]", or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString redacts %#v as well.
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// MarshalText redacts JSON, YAML and text encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue redacts slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }
