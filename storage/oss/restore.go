package oss

import (
	"context"
	"errors"
	"net/http"

	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/bucketferry/bucketferry/storage"
)

// Restore issues RestoreObject for an archived object. A restore already in
// progress (409 RestoreAlreadyInProgress) counts as started; an object
// already restored answers 200, which extends its readable copy.
func (s *Store) Restore(ctx context.Context, key string, opts storage.RestoreOptions) error {
	const op = "restore"
	if key == "" {
		return s.invalid(op, key, "empty key")
	}
	cfg := alioss.RestoreConfiguration{Days: int32(opts.Days), Tier: opts.Tier}
	err := s.bucket.RestoreObjectDetail(key, cfg, alioss.WithContext(ctx))
	var svc alioss.ServiceError
	if errors.As(err, &svc) && svc.StatusCode == http.StatusConflict && svc.Code == "RestoreAlreadyInProgress" {
		return nil
	}
	return s.wrap(op, key, err)
}

var _ storage.Restorer = (*Store)(nil)
