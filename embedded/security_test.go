package embedded

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.temporal.io/server/common/api"
	"go.temporal.io/server/common/authorization"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/grpc/credentials"

	"github.com/bucketferry/bucketferry/pki"
)

// TestUILoginRequired: the decision for addresses beyond loopback is made
// without listening on them.
func TestUILoginRequired(t *testing.T) {
	for _, c := range []struct {
		host     string
		password bool
		login    bool
		err      bool
	}{
		{"127.0.0.1", false, false, false},
		{"127.0.0.1", true, true, false},
		{"::1", false, false, false},
		{"localhost", false, false, false},
		{"0.0.0.0", false, false, true},
		{"0.0.0.0", true, true, false},
		{"::", false, false, true},
		{"10.0.0.5", false, false, true},
		{"bucketferry.internal", false, false, true},
		{"bucketferry.internal", true, true, false},
	} {
		login, err := UILoginRequired(c.host, c.password)
		if login != c.login || (err != nil) != c.err {
			t.Errorf("UILoginRequired(%q, password %v) = %v, %v; want %v, error %v", c.host, c.password, login, err, c.login, c.err)
		}
		if err != nil && !strings.Contains(err.Error(), "server.uiPassword") {
			t.Errorf("the refusal does not say what to set: %v", err)
		}
	}
}

// TestCheckExposure: beyond loopback, the frontend needs TLS, or the
// operator's word that the network is trusted, which warns.
func TestCheckExposure(t *testing.T) {
	if w, err := CheckExposure("127.0.0.1", false, false); w != "" || err != nil {
		t.Errorf("loopback: %q, %v", w, err)
	}
	if w, err := CheckExposure("0.0.0.0", true, false); w != "" || err != nil {
		t.Errorf("TLS: %q, %v", w, err)
	}
	if _, err := CheckExposure("0.0.0.0", false, false); err == nil || !strings.Contains(err.Error(), "server.insecureNetwork") || !strings.Contains(err.Error(), "server.tls.certFile") {
		t.Errorf("no TLS: %v", err)
	}
	if w, err := CheckExposure("10.1.2.3", false, true); err != nil || !strings.HasPrefix(w, "WARNING") {
		t.Errorf("insecure network: %q, %v", w, err)
	}
}

// TestStartRefusesExposure: Start refuses before it binds anything.
func TestStartRefusesExposure(t *testing.T) {
	ctx := context.Background()
	_, err := Start(ctx, Options{StateDir: t.TempDir(), Address: "0.0.0.0:0", UIAddress: NoUI})
	if err == nil || !strings.Contains(err.Error(), "beyond loopback, without TLS") {
		t.Errorf("frontend on 0.0.0.0 without TLS: %v", err)
	}
	_, err = Start(ctx, Options{StateDir: t.TempDir(), Address: "127.0.0.1:0", UIAddress: "0.0.0.0:0"})
	if err == nil || !strings.Contains(err.Error(), "without a login") {
		t.Errorf("UI on 0.0.0.0 without a password: %v", err)
	}
}

// TestLoginOnLoopback: with a password, the UI asks for it on loopback
// too, accepts the password or its bcrypt hash, and passes neither the
// password nor the Authorization header on.
func TestLoginOnLoopback(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"s3cret", string(hash)} {
		var seen http.Header
		l := &login{user: "admin", secret: secret, next: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen = r.Header.Clone()
			w.WriteHeader(http.StatusOK)
		})}
		srv := httptest.NewServer(l) // 127.0.0.1
		for _, c := range []struct {
			user, password string
			want           int
		}{{"", "", 401}, {"admin", "nope", 401}, {"root", "s3cret", 401}, {"admin", "s3cret", 200}, {"admin", "s3cret", 200}} {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
			if c.user != "" {
				req.SetBasicAuth(c.user, c.password)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Errorf("%s:%s: %d, want %d", c.user, c.password, resp.StatusCode, c.want)
			}
			if c.want == 401 && !strings.Contains(resp.Header.Get("WWW-Authenticate"), "Basic") {
				t.Error("no basic authentication challenge")
			}
		}
		srv.Close()
		if seen == nil || seen.Get("Authorization") != "" {
			t.Errorf("the UI got the Authorization header: %v", seen)
		}
	}
}

// TestAuthorizer: what each role may call, and refusals that name the
// missing role.
func TestAuthorizer(t *testing.T) {
	internal, err := newInternalPKI()
	if err != nil {
		t.Fatal(err)
	}
	m := claimMapper{internal: internal}
	a := authorizer{namespace: "default"}
	claims := func(role string) *authorization.Claims {
		c, err := m.GetClaims(&authorization.AuthInfo{
			TLSSubject:    &pkix.Name{CommonName: role + "-1", OrganizationalUnit: []string{role}},
			TLSConnection: &credentials.TLSInfo{State: tls.ConnectionState{}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ws, os := api.WorkflowServicePrefix, api.OperatorServicePrefix
	allowed := map[string][]string{
		pki.RoleReader: {ws + "DescribeWorkflowExecution", ws + "QueryWorkflow", ws + "ListWorkflowExecutions", ws + "GetWorkflowExecutionHistory",
			ws + "DescribeNamespace", ws + "ListNamespaces", ws + "GetClusterInfo", ws + "CountWorkflowExecutions", os + "ListSearchAttributes", ws + "DescribeTaskQueue", ws + "ListWorkers"},
		pki.RoleWorker: {ws + "PollWorkflowTaskQueue", ws + "PollActivityTaskQueue", ws + "RespondWorkflowTaskCompleted", ws + "RespondActivityTaskCompleted",
			ws + "RecordActivityTaskHeartbeat", ws + "RespondQueryTaskCompleted", ws + "ShutdownWorker", ws + "RecordWorkerHeartbeat", ws + "SignalWorkflowExecution"},
		pki.RoleOperator: {ws + "StartWorkflowExecution", ws + "RequestCancelWorkflowExecution", ws + "UpdateWorkflowExecution", ws + "TerminateWorkflowExecution",
			ws + "CreateSchedule", ws + "DeleteSchedule", os + "AddSearchAttributes"},
	}
	ctx := context.Background()
	for _, role := range pki.Roles() {
		for granted, methods := range allowed {
			for _, method := range methods {
				_, err := a.Authorize(ctx, claims(role), &authorization.CallTarget{APIName: method, Namespace: "default"})
				want := rank(role) >= rank(granted)
				if (err == nil) != want {
					t.Errorf("%s calling %s: %v, want allowed %v", role, api.MethodName(method), err, want)
				}
				if err != nil && !strings.Contains(err.Error(), "needs the "+roleOrAbove(granted)+" role") {
					t.Errorf("%s calling %s: refusal %q does not name the role", role, api.MethodName(method), err)
				}
			}
		}
		// Not even an operator reaches another namespace or the cluster's
		// administration.
		for _, target := range []authorization.CallTarget{
			{APIName: ws + "StartWorkflowExecution", Namespace: "temporal-system"},
			{APIName: ws + "ListWorkflowExecutions", Namespace: "temporal-system"},
			{APIName: ws + "RegisterNamespace", Namespace: "other"},
			{APIName: os + "AddOrUpdateRemoteCluster"},
			{APIName: api.AdminServicePrefix + "DescribeCluster"},
		} {
			if _, err := a.Authorize(ctx, claims(role), &target); err == nil {
				t.Errorf("%s may call %s in %q", role, api.MethodName(target.APIName), target.Namespace)
			}
		}
	}
	if _, err := a.Authorize(ctx, nil, &authorization.CallTarget{APIName: ws + "DescribeNamespace", Namespace: "default"}); err == nil || !strings.Contains(err.Error(), "no client certificate") {
		t.Errorf("no claims: %v", err)
	}
	if _, err := a.Authorize(ctx, claims("intern"), &authorization.CallTarget{APIName: ws + "DescribeNamespace", Namespace: "default"}); err == nil || !strings.Contains(err.Error(), "carries no role") {
		t.Errorf("no role: %v", err)
	}
	// A certificate named like the server's own identity, but not signed by
	// its internal CA, is nobody.
	fake, err := m.GetClaims(&authorization.AuthInfo{TLSSubject: &pkix.Name{CommonName: internalSystem}, TLSConnection: &credentials.TLSInfo{}})
	if err != nil || fake.System == authorization.RoleAdmin {
		t.Errorf("a look-alike internal certificate got %+v", fake)
	}
	if r, err := a.Authorize(ctx, nil, &authorization.CallTarget{APIName: "/grpc.health.v1.Health/Check"}); err != nil || r.Decision != authorization.DecisionAllow {
		t.Errorf("health check: %v", err)
	}
}
