package embedded

import (
	"context"
	"fmt"
	"strings"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/server/common/api"
	"go.temporal.io/server/common/authorization"

	"github.com/bucketferry/bucketferry/pki"
)

// identity is what the claim mapper found in a client certificate.
type identity struct {
	name string // the subject's common name
	role string // one of pki.Roles, or "" for none
}

// claimMapper maps a verified client certificate to claims: the server's
// own internal certificates (signed by the in-memory internal CA) to
// everything, certificates of the operator's CA to the role in their
// subject's OrganizationalUnit.
type claimMapper struct {
	internal *internalPKI
}

var _ authorization.ClaimMapper = claimMapper{}

func (m claimMapper) GetClaims(info *authorization.AuthInfo) (*authorization.Claims, error) {
	if info.TLSSubject == nil || info.TLSConnection == nil {
		// A token without a certificate: no role.
		return &authorization.Claims{Extensions: identity{}}, nil
	}
	cn := info.TLSSubject.CommonName
	if m.internal.isInternal(info.TLSConnection.State.VerifiedChains) {
		switch cn {
		case internalSystem:
			return &authorization.Claims{Subject: cn, System: authorization.RoleAdmin, AuthType: "mtls", Extensions: identity{name: cn}}, nil
		case internalWebUI:
			return &authorization.Claims{Subject: cn, AuthType: "mtls", Extensions: identity{name: cn, role: pki.RoleOperator}}, nil
		}
		return &authorization.Claims{Subject: cn, Extensions: identity{name: cn}}, nil
	}
	return &authorization.Claims{Subject: cn, AuthType: "mtls", Extensions: identity{name: cn, role: pki.RoleOf(*info.TLSSubject)}}, nil
}

// authorizer grants by role, in the one namespace of the jobs:
//   - reader: read-only APIs (describe, list, get, query, count);
//   - worker: those, and polling and completing tasks, heartbeats, worker
//     heartbeats and shutdown: what an SDK worker calls;
//   - operator: every API of the namespace (start, cancel, update, signal,
//     terminate, schedules, search attributes).
//
// Cluster-wide APIs that only read (system and cluster info, the namespace
// list) are open to every role; every other cluster-wide API, and every
// other namespace (temporal-system holds the server's own workflows), is
// the server's alone.
type authorizer struct {
	namespace string
}

var _ authorization.Authorizer = authorizer{}

// workerAPIs are the write APIs an SDK worker calls.
var workerAPIs = map[string]bool{
	"PollWorkflowTaskQueue": true, "PollActivityTaskQueue": true, "PollNexusTaskQueue": true,
	"RespondWorkflowTaskCompleted": true, "RespondWorkflowTaskFailed": true, "RespondQueryTaskCompleted": true,
	"RespondActivityTaskCompleted": true, "RespondActivityTaskCompletedById": true,
	"RespondActivityTaskFailed": true, "RespondActivityTaskFailedById": true,
	"RespondActivityTaskCanceled": true, "RespondActivityTaskCanceledById": true,
	"RecordActivityTaskHeartbeat": true, "RecordActivityTaskHeartbeatById": true,
	"RespondNexusTaskCompleted": true, "RespondNexusTaskFailed": true,
	"ResetStickyTaskQueue": true, "ShutdownWorker": true, "RecordWorkerHeartbeat": true,
	// A worker tells a job that a store is out, and out no more
	// (activities/outage.go): a signal the job takes only as a stall's
	// start or end. Pause, resume and limits are Updates, operators' alone.
	"SignalWorkflowExecution": true,
}

// rank orders the roles: each may do what the ones before it may.
func rank(role string) int {
	switch role {
	case pki.RoleReader:
		return 1
	case pki.RoleWorker:
		return 2
	case pki.RoleOperator:
		return 3
	}
	return 0
}

// requiredRole is the least role that may call method in namespace ns, or
// "" when no client certificate may.
func (a authorizer) requiredRole(method, ns string) string {
	md := api.GetMethodMetadata(method)
	name := api.MethodName(method)
	switch md.Scope {
	case api.ScopeCluster:
		if md.Access == api.AccessReadOnly {
			return pki.RoleReader
		}
		return ""
	case api.ScopeNamespace:
		if ns != a.namespace {
			return ""
		}
		switch {
		case workerAPIs[name]:
			return pki.RoleWorker
		case md.Access == api.AccessReadOnly:
			return pki.RoleReader
		}
		return pki.RoleOperator
	}
	return ""
}

func (a authorizer) Authorize(_ context.Context, claims *authorization.Claims, target *authorization.CallTarget) (authorization.Result, error) {
	if authorization.IsHealthCheckAPI(target.APIName) {
		return authorization.Result{Decision: authorization.DecisionAllow}, nil
	}
	method := api.MethodName(target.APIName)
	if claims == nil {
		return deny("%s refused: no client certificate (every client needs one signed by the server's CA)", method)
	}
	if claims.System == authorization.RoleAdmin {
		return authorization.Result{Decision: authorization.DecisionAllow}, nil
	}
	id, _ := claims.Extensions.(identity)
	need := a.requiredRole(target.APIName, target.Namespace)
	switch {
	case id.role == "":
		return deny("%s refused: certificate %q carries no role: its subject's OU must be one of %s (`starter certs` makes them)",
			method, id.name, strings.Join(pki.Roles(), ", "))
	case need == "" && target.Namespace != "" && target.Namespace != a.namespace:
		return deny("%s refused: certificate %q (role %s) has no access to namespace %q, only to %q", method, id.name, id.role, target.Namespace, a.namespace)
	case need == "":
		return deny("%s refused: certificate %q (role %s): only the server itself may call it", method, id.name, id.role)
	case rank(id.role) < rank(need):
		return deny("%s refused: certificate %q has the %s role; %s needs the %s role", method, id.name, id.role, method, roleOrAbove(need))
	}
	return authorization.Result{Decision: authorization.DecisionAllow}, nil
}

// roleOrAbove names a role and the ones that include it.
func roleOrAbove(role string) string {
	var out []string
	for _, r := range pki.Roles() {
		if rank(r) >= rank(role) {
			out = append(out, r)
		}
	}
	if len(out) == 1 {
		return out[0]
	}
	return strings.Join(out[:len(out)-1], ", ") + " or " + out[len(out)-1]
}

// deny refuses with an error that reaches the client as it is (the server
// runs with frontend.exposeAuthorizerErrors) and lands in the server log.
func deny(format string, args ...any) (authorization.Result, error) {
	return authorization.Result{Decision: authorization.DecisionDeny}, serviceerror.NewPermissionDenied(fmt.Sprintf(format, args...), "")
}
