package config

import (
	"fmt"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bucketferry/bucketferry/storage"
	"github.com/bucketferry/bucketferry/storage/cos"
	"github.com/bucketferry/bucketferry/storage/local"
	"github.com/bucketferry/bucketferry/storage/oss"
	"github.com/bucketferry/bucketferry/storage/s3"
	"github.com/bucketferry/bucketferry/storage/urllist"
)

// Store types.
const (
	TypeOSS   = "oss"
	TypeCOS   = "cos"
	TypeLocal = "local"
	// TypeS3 is Amazon S3 or any S3-compatible service (R2, MinIO, OBS,
	// Kodo, BOS, KS3, ...).
	TypeS3 = "s3"
	// TypeURLList is a manifest of HTTP(S) URLs: a source only.
	TypeURLList = "urllist"
)

// storeTypes lists the types, for messages.
const storeTypes = "oss, cos, s3, local or urllist"

// StoreConfig is one named store. Type selects the backend, and only the
// keys of that backend may be set (the types tag lists them).
type StoreConfig struct {
	// Type is oss, cos, s3, local or urllist.
	Type string `mapstructure:"type" types:"oss,cos,s3,local,urllist"`

	// Endpoint: for OSS the region endpoint, e.g.
	// https://oss-cn-hangzhou.aliyuncs.com (https when the scheme is
	// missing); for COS an optional base URL replacing
	// https://<bucket>.cos.<region>.myqcloud.com; for S3 the service's base
	// URL, empty for AWS.
	Endpoint string `mapstructure:"endpoint" types:"oss,cos,s3"`
	// InternalEndpoint is the OSS VPC endpoint, used when UseInternal is set.
	InternalEndpoint string `mapstructure:"internalEndpoint" types:"oss"`
	UseInternal      bool   `mapstructure:"useInternal" types:"oss"`
	// Bucket: for COS the full name with the APPID, name-1250000000.
	Bucket string `mapstructure:"bucket" types:"oss,cos,s3"`
	// Region: OSS region ID (cn-hangzhou), required with AuthVersion 4;
	// COS region (ap-guangzhou), required; S3 region (us-east-1, auto for
	// R2), required.
	Region string `mapstructure:"region" types:"oss,cos,s3"`

	// OSS credentials and signing; S3's access key id.
	AccessKeyID     string `mapstructure:"accessKeyId" types:"oss,s3"`
	AccessKeySecret Secret `mapstructure:"accessKeySecret" types:"oss"`
	SecurityToken   Secret `mapstructure:"securityToken" types:"oss"`
	AuthVersion     int    `mapstructure:"authVersion" types:"oss"`
	PathStyle       bool   `mapstructure:"pathStyle" types:"oss,s3"`

	// COS credentials; S3's session token.
	SecretID     string `mapstructure:"secretId" types:"cos"`
	SecretKey    Secret `mapstructure:"secretKey" types:"cos"`
	SessionToken Secret `mapstructure:"sessionToken" types:"cos,s3"`

	// SecretAccessKey is S3's secret key. With neither it nor accessKeyId,
	// the AWS SDK's default credential chain is used (AWS_* environment,
	// shared files, instance and task roles).
	SecretAccessKey Secret `mapstructure:"secretAccessKey" types:"s3"`

	// Manifest is a URL list's file of URLs (a path or an http(s) URL);
	// IncludeHost puts each URL's host in front of its key.
	Manifest    string `mapstructure:"manifest" types:"urllist"`
	IncludeHost bool   `mapstructure:"includeHost" types:"urllist"`

	// Path is a local store's root directory.
	Path string `mapstructure:"path" types:"local"`

	// HTTP client tuning of OSS and COS stores; zero means the backend's
	// default (10s, 60s, 512).
	ConnectTimeout      time.Duration `mapstructure:"connectTimeout" types:"oss,cos,s3,urllist"`
	ReadWriteTimeout    time.Duration `mapstructure:"readWriteTimeout" types:"oss,cos,s3,urllist"`
	MaxIdleConnsPerHost int           `mapstructure:"maxIdleConnsPerHost" types:"oss,cos,s3,urllist"`
}

// Open makes the store. It does not contact the service.
func (s StoreConfig) Open() (storage.Store, error) {
	switch s.Type {
	case TypeOSS:
		return oss.New(oss.Config{
			Endpoint:            s.Endpoint,
			InternalEndpoint:    s.InternalEndpoint,
			UseInternal:         s.UseInternal,
			Bucket:              s.Bucket,
			AccessKeyID:         s.AccessKeyID,
			AccessKeySecret:     s.AccessKeySecret.Value(),
			SecurityToken:       s.SecurityToken.Value(),
			Region:              s.Region,
			AuthVersion:         s.AuthVersion,
			PathStyle:           s.PathStyle,
			ConnectTimeout:      s.ConnectTimeout,
			ReadWriteTimeout:    s.ReadWriteTimeout,
			MaxIdleConnsPerHost: s.MaxIdleConnsPerHost,
		})
	case TypeCOS:
		return cos.New(cos.Config{
			Bucket:              s.Bucket,
			Region:              s.Region,
			Endpoint:            s.Endpoint,
			SecretID:            s.SecretID,
			SecretKey:           s.SecretKey.Value(),
			SessionToken:        s.SessionToken.Value(),
			ConnectTimeout:      s.ConnectTimeout,
			ReadWriteTimeout:    s.ReadWriteTimeout,
			MaxIdleConnsPerHost: s.MaxIdleConnsPerHost,
		})
	case TypeLocal:
		return local.New(s.Path)
	case TypeS3:
		return s3.New(s3.Config{
			Bucket:              s.Bucket,
			Region:              s.Region,
			Endpoint:            s.Endpoint,
			PathStyle:           s.PathStyle,
			AccessKeyID:         s.AccessKeyID,
			SecretAccessKey:     s.SecretAccessKey.Value(),
			SessionToken:        s.SessionToken.Value(),
			ConnectTimeout:      s.ConnectTimeout,
			ReadWriteTimeout:    s.ReadWriteTimeout,
			MaxIdleConnsPerHost: s.MaxIdleConnsPerHost,
		})
	case TypeURLList:
		return urllist.New(urllist.Config{
			Manifest:            s.Manifest,
			IncludeHost:         s.IncludeHost,
			ConnectTimeout:      s.ConnectTimeout,
			ReadWriteTimeout:    s.ReadWriteTimeout,
			MaxIdleConnsPerHost: s.MaxIdleConnsPerHost,
		})
	}
	return nil, fmt.Errorf("unknown store type %q (use %s)", s.Type, storeTypes)
}

var (
	storeNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	ossBucketPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	cosBucketPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*-[0-9]+$`)
	regionPattern    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*[a-z0-9]$`)
)

// validate returns the problems of the store called name.
func (s StoreConfig) validate(name string) []string {
	sp := &storeProblems{prefix: "stores." + name + "."}
	p, add := sp.prefix, sp.add
	if !storeNamePattern.MatchString(name) {
		add("stores: store name %q must be lower-case letters, digits, '-' and '_' (job specs name stores this way)", name)
	}
	switch s.Type {
	case TypeOSS, TypeCOS, TypeLocal, TypeS3, TypeURLList:
	case "":
		add("%stype is required: %s", p, storeTypes)
		return sp.problems
	default:
		add("%stype %q is not a store type: use %s", p, s.Type, storeTypes)
		return sp.problems
	}
	// Keys of another backend are mistakes (a COS secretId in an OSS
	// store), not something to ignore.
	for _, l := range leaves(reflect.ValueOf(s), "") {
		types := strings.Split(l.field.Tag.Get("types"), ",")
		if !l.value.IsZero() && !slices.Contains(types, s.Type) {
			add("%s%s is not a key of %s stores (%s takes: %s)", p, l.path, s.Type, s.Type, strings.Join(keysOf(s.Type), ", "))
		}
	}
	switch s.Type {
	case TypeOSS:
		s.checkOSS(sp)
	case TypeCOS:
		s.checkCOS(sp)
	case TypeLocal:
		sp.required("path", s.Path)
	case TypeS3:
		s.checkS3(sp)
	case TypeURLList:
		sp.required("manifest", s.Manifest)
	}
	s.checkCommon(sp)
	if len(sp.problems) == 0 {
		// The backend's own checks, in case they know more.
		if _, err := s.Open(); err != nil {
			add("stores.%s: %v", name, err)
		}
	}
	slices.Sort(sp.problems)
	return sp.problems
}

// storeProblems are the problems of one store, its keys named under
// prefix ("stores.NAME.").
type storeProblems struct {
	prefix string
	problems
}

// required adds a problem when the value of key is not set.
func (sp *storeProblems) required(key string, v any) {
	if reflect.ValueOf(v).IsZero() {
		sp.add("%s%s is required (in the file or in %s)", sp.prefix, key, envName(sp.prefix+key))
	}
}

func (s StoreConfig) checkOSS(sp *storeProblems) {
	p, add, required := sp.prefix, sp.add, sp.required
	if s.UseInternal {
		required("internalEndpoint", s.InternalEndpoint)
	} else {
		required("endpoint", s.Endpoint)
	}
	for key, ep := range map[string]string{"endpoint": s.Endpoint, "internalEndpoint": s.InternalEndpoint} {
		if ep != "" {
			if msg := checkEndpoint(ep, false, s.Bucket); msg != "" {
				add("%s%s %s", p, key, msg)
			}
		}
	}
	required("bucket", s.Bucket)
	if s.Bucket != "" && !ossBucketPattern.MatchString(s.Bucket) {
		add("%sbucket %q is not an OSS bucket name (3 to 63 lower-case letters, digits and '-', starting and ending with a letter or digit)", p, s.Bucket)
	}
	required("accessKeyId", s.AccessKeyID)
	required("accessKeySecret", s.AccessKeySecret)
	switch s.AuthVersion {
	case 0, 1:
	case 4:
		if s.Region == "" {
			add("%sregion is required with authVersion 4 (the region ID, e.g. cn-hangzhou)", p)
		}
	default:
		add("%sauthVersion %d is not supported: use 1 or 4", p, s.AuthVersion)
	}
	if s.Region != "" {
		if strings.HasPrefix(s.Region, "oss-") || !regionPattern.MatchString(s.Region) {
			add("%sregion %q is not an OSS region ID such as cn-hangzhou (without \"oss-\")", p, s.Region)
		}
	}
}

func (s StoreConfig) checkCOS(sp *storeProblems) {
	p, add, required := sp.prefix, sp.add, sp.required
	required("bucket", s.Bucket)
	if s.Bucket != "" && !cosBucketPattern.MatchString(s.Bucket) {
		add("%sbucket %q must be the full COS bucket name with its APPID, e.g. examplebucket-1250000000", p, s.Bucket)
	}
	required("region", s.Region)
	if s.Region != "" && !regionPattern.MatchString(s.Region) {
		add("%sregion %q is not a COS region such as ap-guangzhou", p, s.Region)
	}
	if s.Endpoint != "" {
		if msg := checkEndpoint(s.Endpoint, true, ""); msg != "" {
			add("%sendpoint %s", p, msg)
		}
	}
	required("secretId", s.SecretID)
	required("secretKey", s.SecretKey)
}

func (s StoreConfig) checkS3(sp *storeProblems) {
	p, add, required := sp.prefix, sp.add, sp.required
	required("bucket", s.Bucket)
	required("region", s.Region)
	if s.Endpoint != "" {
		if msg := checkEndpoint(s.Endpoint, true, ""); msg != "" {
			add("%sendpoint %s", p, msg)
		}
	}
	if (s.AccessKeyID == "") != (s.SecretAccessKey == "") {
		add("%saccessKeyId and secretAccessKey go together (or neither, for the AWS SDK's default credential chain; the secret in %s)",
			p, envName(p+"secretAccessKey"))
	}
}

// checkCommon checks the keys every type of store takes.
func (s StoreConfig) checkCommon(sp *storeProblems) {
	p, add := sp.prefix, sp.add
	if s.ConnectTimeout < 0 {
		add("%sconnectTimeout %v must not be negative", p, s.ConnectTimeout)
	}
	if s.ReadWriteTimeout < 0 {
		add("%sreadWriteTimeout %v must not be negative", p, s.ReadWriteTimeout)
	}
	if s.MaxIdleConnsPerHost < 0 {
		add("%smaxIdleConnsPerHost %d must not be negative", p, s.MaxIdleConnsPerHost)
	}
	for key, v := range map[string]Secret{"accessKeySecret": s.AccessKeySecret, "securityToken": s.SecurityToken,
		"secretKey": s.SecretKey, "sessionToken": s.SessionToken, "secretAccessKey": s.SecretAccessKey} {
		if strings.TrimSpace(string(v)) != string(v) {
			add("%s%s must not start or end with white space", p, key)
		}
	}
}

// keysOf lists the keys a store of type typ takes.
func keysOf(typ string) []string {
	var out []string
	for _, l := range storeKeys() {
		if slices.Contains(strings.Split(l.field.Tag.Get("types"), ","), typ) {
			out = append(out, l.path)
		}
	}
	return out
}

// checkEndpoint returns what is wrong with an endpoint URL, or "". Without
// needScheme a bare host means https. An endpoint naming the bucket (a
// virtual-host name) is refused: the SDK adds the bucket itself.
func checkEndpoint(ep string, needScheme bool, bucket string) string {
	raw := ep
	if !strings.Contains(ep, "://") {
		if needScheme {
			return fmt.Sprintf("%q must be a base URL with a scheme, e.g. https://cos.ap-guangzhou.myqcloud.com", raw)
		}
		ep = "https://" + ep
	}
	u, err := url.Parse(ep)
	if err != nil {
		return "is not a URL"
	}
	if u.User != nil {
		// Never echo it: it holds credentials.
		return "must not contain user:password@"
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("%q must use http or https", raw)
	case u.Hostname() == "":
		return fmt.Sprintf("%q has no host", raw)
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.Fragment != "":
		return fmt.Sprintf("%q must have no path or query", raw)
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("%q has an invalid port", raw)
		}
	}
	if bucket != "" && net.ParseIP(u.Hostname()) == nil && strings.HasPrefix(u.Hostname(), bucket+".") {
		return fmt.Sprintf("%q must be the region endpoint without the bucket name, e.g. https://oss-cn-hangzhou.aliyuncs.com", raw)
	}
	return ""
}
