package e2e

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/podtrace/podtrace/api"
)

// groundTruth is what kube-apiserver's own audit log says happened to the
// pods of one namespace: the standard podtrace's records are held to.
type groundTruth struct {
	namespace string
	created   map[string]string // uid → name: accepted pod creates
	refused   map[string]string // auditID → message: refused pod creates (not 409)
	nodes     map[string]string // uid → node of the accepted binding
	deleted   map[string]bool   // uids with an accepted delete request
	evicted   map[string]bool   // uids with an accepted eviction, or deleted by taintEvictionUser
}

// readTruth reads the audit log at path into the ground truth of each of
// the namespaces (all namespaces when none is given).
func readTruth(t *testing.T, path string, namespaces ...string) map[string]*groundTruth {
	t.Helper()
	out := map[string]*groundTruth{}
	truth := func(ns string) *groundTruth {
		if len(namespaces) > 0 && !slices.Contains(namespaces, ns) {
			return nil
		}
		g := out[ns]
		if g == nil {
			g = &groundTruth{namespace: ns, created: map[string]string{}, refused: map[string]string{},
				nodes: map[string]string{}, deleted: map[string]bool{}, evicted: map[string]bool{}}
			out[ns] = g
		}
		return g
	}
	for _, ns := range namespaces {
		truth(ns)
	}
	events := readAuditLog(t, path)
	// names are resolved to uids through the incarnation alive at the time
	type incarnation struct {
		uid     string
		created time.Time
	}
	names := map[string][]incarnation{}
	for _, e := range events {
		ref := e.ObjectRef
		if ref == nil || ref.Resource != "pods" || ref.Subresource != "" || e.Verb != "create" || e.Stage != "ResponseComplete" {
			continue
		}
		if g := truth(ref.Namespace); g != nil && ok(e) && e.ResponseObject != nil {
			m := e.ResponseObject.Metadata
			g.created[m.UID] = m.Name
			names[ref.Namespace+"/"+m.Name] = append(names[ref.Namespace+"/"+m.Name], incarnation{m.UID, e.Time})
		}
	}
	uidOf := func(e auditEvent) string {
		if e.ObjectRef.UID != "" {
			return e.ObjectRef.UID
		}
		uid := ""
		for _, inc := range names[e.ObjectRef.Namespace+"/"+e.ObjectRef.Name] {
			if !inc.created.After(e.Time) {
				uid = inc.uid
			}
		}
		return uid
	}
	for _, e := range events {
		ref := e.ObjectRef
		if ref == nil || ref.Resource != "pods" || e.Stage != "ResponseComplete" {
			continue
		}
		g := truth(ref.Namespace)
		if g == nil {
			continue
		}
		switch {
		case e.Verb == "create" && ref.Subresource == "" && e.ResponseStatus != nil && e.ResponseStatus.Code >= 400 && e.ResponseStatus.Code != 409:
			g.refused[e.AuditID] = e.ResponseStatus.Message
		case !ok(e):
		case e.Verb == "create" && ref.Subresource == "binding" && e.RequestObject != nil:
			g.nodes[uidOf(e)] = e.RequestObject.Target.Name
		case e.Verb == "create" && ref.Subresource == "eviction",
			// the taint eviction controller (a node gone NotReady) deletes
			// with a plain DELETE
			e.Verb == "delete" && ref.Subresource == "" && e.User.Username == taintEvictionUser:
			g.evicted[uidOf(e)] = true
		case e.Verb == "delete" && ref.Subresource == "":
			uid := uidOf(e)
			if e.ResponseObject != nil && e.ResponseObject.Metadata.UID != "" {
				uid = e.ResponseObject.Metadata.UID
			}
			g.deleted[uid] = true
		}
	}
	return out
}

// gone returns the uids deleted or evicted.
func (g *groundTruth) gone() map[string]bool {
	out := maps.Clone(g.deleted)
	maps.Copy(out, g.evicted)
	return out
}

// ok: the request was carried out.
func ok(e auditEvent) bool {
	return e.ResponseStatus != nil && e.ResponseStatus.Code >= 200 && e.ResponseStatus.Code < 300
}

// refusedUID is the uid podtrace gives the delivery of a refused create
// (lifecycle: "refused-" + the request's audit ID).
func refusedUID(auditID string) string { return "refused-" + auditID }

// diff compares podtrace's records of the namespace with the ground truth,
// one-to-one: a create record for every pod created and none other, a
// failed record for every refused create, the bound node, a delete record
// for every pod deleted or evicted (outcome evicted exactly for the evicted
// ones). It returns one line per mismatch.
func (g *groundTruth) diff(recs []api.PodSummary) []string {
	var out []string
	creates := map[string]api.PodSummary{}
	deletes := map[string]api.PodSummary{}
	for _, r := range recs {
		switch r.Kind {
		case "create":
			creates[r.UID] = r
		case "delete":
			deletes[r.UID] = r
		}
	}
	for _, uid := range slices.Sorted(maps.Keys(g.created)) {
		r, found := creates[uid]
		switch {
		case !found:
			out = append(out, fmt.Sprintf("pod %s (uid %s) was created, podtrace has no create record", g.created[uid], uid))
		case r.Name != g.created[uid]:
			out = append(out, fmt.Sprintf("pod uid %s is named %s, its record says %s", uid, g.created[uid], r.Name))
		case r.Node != g.nodes[uid]:
			out = append(out, fmt.Sprintf("pod %s was bound to %q, its record says node %q", r.Name, g.nodes[uid], r.Node))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(g.refused)) {
		r, found := creates[refusedUID(id)]
		switch {
		case !found:
			out = append(out, fmt.Sprintf("pod create %s was refused (%s), podtrace has no record of it", id, g.refused[id]))
		case r.Outcome != "failed":
			out = append(out, fmt.Sprintf("refused pod create %s: outcome %s, want failed", id, r.Outcome))
		}
	}
	for _, uid := range slices.Sorted(maps.Keys(creates)) {
		_, created := g.created[uid]
		_, refused := g.refused[strings.TrimPrefix(uid, "refused-")]
		if !created && !refused {
			out = append(out, fmt.Sprintf("create record %s (uid %s) matches no pod create in the audit log", creates[uid].Name, uid))
		}
	}
	for _, uid := range slices.Sorted(maps.Keys(deletes)) {
		if !g.deleted[uid] && !g.evicted[uid] {
			out = append(out, fmt.Sprintf("delete record %s (uid %s) matches no delete or eviction in the audit log", deletes[uid].Name, uid))
		}
	}
	for _, uid := range slices.Sorted(maps.Keys(g.created)) {
		r, found := deletes[uid]
		switch {
		case (g.deleted[uid] || g.evicted[uid]) && !found:
			out = append(out, fmt.Sprintf("pod %s (uid %s) was deleted or evicted, podtrace has no delete record", g.created[uid], uid))
		case g.evicted[uid] && r.Outcome != "evicted":
			out = append(out, fmt.Sprintf("pod %s was evicted, its delete record's outcome is %s", r.Name, r.Outcome))
		case found && !g.evicted[uid] && r.Outcome == "evicted":
			out = append(out, fmt.Sprintf("pod %s was deleted, not evicted, yet its delete record's outcome is evicted", r.Name))
		}
	}
	return out
}

// String lists the ground truth for a failure message.
func (g *groundTruth) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "audit log of namespace %s: %d pods created, %d creates refused\n", g.namespace, len(g.created), len(g.refused))
	uids := slices.Collect(maps.Keys(g.created))
	sort.Slice(uids, func(i, j int) bool { return g.created[uids[i]] < g.created[uids[j]] })
	for _, uid := range uids {
		fmt.Fprintf(&b, "  %-32s %s node=%q deleted=%v evicted=%v\n", g.created[uid], uid, g.nodes[uid], g.deleted[uid], g.evicted[uid])
	}
	for _, id := range slices.Sorted(maps.Keys(g.refused)) {
		fmt.Fprintf(&b, "  refused %s: %s\n", id, g.refused[id])
	}
	return b.String()
}

// formatRecords lists delivery summaries for a failure message.
func formatRecords(recs []api.PodSummary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "podtrace: %d records\n", len(recs))
	sorted := slices.Clone(recs)
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].Name != sorted[j].Name {
			return sorted[i].Name < sorted[j].Name
		}
		return sorted[i].Kind < sorted[j].Kind
	})
	for _, r := range sorted {
		met := "null"
		if r.SLOMet != nil {
			met = fmt.Sprint(*r.SLOMet)
		}
		fmt.Fprintf(&b, "  %-32s %-6s %-9s %s node=%q dur=%.1fs platform=%.1fs user=%.1fs met=%s codes=%v finished=%v\n",
			r.Name, r.Kind, r.Outcome, r.UID, r.Node, r.DurationSeconds, r.PlatformSeconds, r.UserSeconds, met, r.Codes, r.Finished != nil)
	}
	return b.String()
}

// statusWrites returns the times (stageTimestamp) of the first status
// write showing every container of the pod started, and of the first
// showing it Ready, from the audit log.
func statusWrites(t *testing.T, path, ns, name string) (started, ready time.Time) {
	t.Helper()
	for _, e := range readAuditLog(t, path) {
		ref := e.ObjectRef
		if ref == nil || ref.Resource != "pods" || ref.Subresource != "status" || ref.Namespace != ns || ref.Name != name || !ok(e) {
			continue
		}
		st := e.podStatus()
		if st == nil {
			continue
		}
		all := len(st.ContainerStatuses) > 0
		for _, cs := range st.ContainerStatuses {
			all = all && cs.Started != nil && *cs.Started
		}
		if all && (started.IsZero() || e.Time.Before(started)) {
			started = e.Time
		}
		for _, c := range st.Conditions {
			if c.Type == "Ready" && c.Status == "True" && (ready.IsZero() || e.Time.Before(ready)) {
				ready = e.Time
			}
		}
	}
	if started.IsZero() || ready.IsZero() {
		t.Fatalf("audit log: no status writes of %s/%s showing it started (%s) and Ready (%s)", ns, name, started, ready)
	}
	return started, ready
}

// taintEvictionUser is who kube-controller-manager's taint eviction
// controller deletes pods as (with --use-service-account-credentials).
const taintEvictionUser = "system:serviceaccount:kube-system:node-controller"
