package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/api"
)

// oneOf checks that a filter flag, if given, is one of the values the API
// takes for it: a mistyped value would match nothing and list nothing.
func oneOf[T ~string](flag, v string, valid []T) error {
	if v == "" || slices.Contains(valid, T(v)) {
		return nil
	}
	return fmt.Errorf("%s %q: want one of %v", flag, v, valid)
}

func (rd reader) runPods(ctx context.Context, env Env, args []string) error {
	fs := progFlagSet(rd.prog, "pods", env)
	src := rd.flags(fs)
	ns := fs.String("n", "", "namespace")
	fs.StringVar(ns, "namespace", "", "namespace")
	cluster := fs.String("cluster", "", "cluster")
	outcome := fs.String("outcome", "", "outcome: ready, running, succeeded, failed, pending, deleted, evicted")
	kind := fs.String("kind", "", "delivery kind: create, delete, upgrade")
	code := fs.String("code", "", "diagnosis code")
	limit := fs.Int("limit", 1000, "most records to list")
	out := fs.String("o", "table", "output: table or json")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if *out != "table" && *out != "json" {
		return fmt.Errorf("-o %q: want table or json", *out)
	}
	if err := errors.Join(oneOf("--outcome", *outcome, podtrace.Outcomes()), oneOf("--kind", *kind, podtrace.Kinds())); err != nil {
		return err
	}
	if *limit < 1 {
		return fmt.Errorf("--limit %d: must be positive", *limit)
	}
	st, _, err := src.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	recs, _, err := st.Records(ctx, podtrace.RecordFilter{Cluster: *cluster, Namespace: *ns, Outcome: podtrace.Outcome(*outcome), Kind: podtrace.Kind(*kind), Code: *code, Limit: *limit})
	if err != nil {
		return err
	}
	if *out == "json" {
		return writeRecords(env.Stdout, recs)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tNAME\tKIND\tOUTCOME\tDURATION\tNODE\tCREATED\tFINDINGS")
	for _, r := range recs {
		printableRecord(&r)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Namespace, r.Name, r.Kind, r.Outcome, duration(&r), dash(r.Node), r.Created.Format(time.RFC3339), codes(r.Diagnosis))
	}
	return tw.Flush()
}

// writeRecords writes records as the REST API serves them (api.Normalize:
// trace_id set, empty lists as []), whichever source they came from.
func writeRecords(w io.Writer, recs []podtrace.Record) error {
	for i := range recs {
		api.Normalize(&recs[i])
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(recs)
}

func duration(r *podtrace.Record) string {
	d := r.Duration().Round(time.Millisecond)
	if r.Finished == nil {
		return d.String() + "+"
	}
	return d.String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func codes(fs []podtrace.Finding) string {
	if len(fs) == 0 {
		return "-"
	}
	var cs []string
	for _, f := range fs {
		cs = append(cs, f.Code)
	}
	return strings.Join(cs, ",")
}

func (rd reader) runExplain(ctx context.Context, env Env, args []string) error {
	fs := progFlagSet(rd.prog, "explain", env)
	src := rd.flags(fs)
	cluster := fs.String("cluster", "", "cluster")
	out := fs.String("o", "text", "output: text or json")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fmt.Fprintf(env.Stderr, "usage: %s [--db PATH | --postgres-dsn URL | --server URL] NAMESPACE/NAME | UID [-o text|json]\n", fs.Name())
		return errUsage
	}
	if *out != "text" && *out != "json" {
		return fmt.Errorf("-o %q: want text or json", *out)
	}
	st, where, err := src.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	f := podtrace.RecordFilter{Cluster: *cluster, Limit: 1000}
	if ns, name, ok := strings.Cut(pos[0], "/"); ok {
		f.Namespace, f.Name = ns, name
	} else {
		f.UID = pos[0]
	}
	recs, _, err := st.Records(ctx, f)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return fmt.Errorf("no pod %q in %s%s", pos[0], where, suggest(ctx, st, *cluster, pos[0]))
	}
	// oldest first: the story in order
	for i, j := 0, len(recs)-1; i < j; i, j = i+1, j-1 {
		recs[i], recs[j] = recs[j], recs[i]
	}
	if *out == "json" {
		return writeRecords(env.Stdout, recs)
	}
	for i := range recs {
		printableRecord(&recs[i])
		writeExplain(env.Stdout, &recs[i])
	}
	return nil
}

// suggest names the pods whose namespace/name (or uid) is close to what
// explain was asked for, as "; did you mean ...?", or "".
func suggest(ctx context.Context, st recordSource, cluster, asked string) string {
	recs, _, err := st.Records(ctx, podtrace.RecordFilter{Cluster: cluster, Limit: maxPage})
	if err != nil {
		return ""
	}
	type match struct {
		name string
		dist int
	}
	var ms []match
	seen := map[string]bool{}
	for _, r := range recs {
		name := r.Namespace + "/" + r.Name
		if !strings.Contains(asked, "/") { // explain took it for a uid
			name = r.UID
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		d := editDistance(strings.ToLower(asked), strings.ToLower(name))
		if d <= max(2, len(asked)/4) || strings.Contains(name, asked) {
			ms = append(ms, match{name, d})
		}
	}
	if len(ms) == 0 {
		return ""
	}
	slices.SortFunc(ms, func(a, b match) int { return cmp.Or(a.dist-b.dist, strings.Compare(a.name, b.name)) })
	var names []string
	for _, m := range ms[:min(3, len(ms))] {
		names = append(names, printable(m.name))
	}
	return "; did you mean " + strings.Join(names, ", ") + "?"
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// printableRecord escapes the record's text for a terminal (see printable):
// names, messages and evidence come from audit events, which whoever may
// write to the apiserver, or post to the webhook, chose.
func printableRecord(r *podtrace.Record) {
	for _, s := range []*string{&r.Namespace, &r.Name, &r.UID, &r.Node, &r.OwnerKind, &r.OwnerName} {
		*s = printable(*s)
	}
	for i := range r.Phases {
		r.Phases[i].Name = printable(r.Phases[i].Name)
	}
	for i := range r.Milestones {
		m := &r.Milestones[i]
		m.Name, m.AuditID = printable(m.Name), printable(m.AuditID)
	}
	for i := range r.Diagnosis {
		f := &r.Diagnosis[i]
		f.Code, f.Phase, f.Message, f.Remedy = printable(f.Code), printable(f.Phase), printable(f.Message), printable(f.Remedy)
		for j := range f.Evidence {
			f.Evidence[j].Text = printable(f.Evidence[j].Text)
		}
	}
	if r.SLO != nil {
		r.SLO.Rule = printable(r.SLO.Rule)
	}
}

// printable escapes what a terminal would act on rather than show: C0
// controls (ESC, BEL, CR, tab, newline), DEL and C1 controls become \xNN or
// \uNNNN, bytes that are not UTF-8 \xNN. A pod name carrying an OSC
// sequence shows as text instead of retitling the window or hiding lines.
func printable(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, control) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1, r < 0x80 && control(r):
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case control(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// control reports whether r is a C0 or C1 control character or DEL.
func control(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// writeExplain renders one delivery: what happened, why (findings first,
// with evidence and remedy), then the timeline.
func writeExplain(w io.Writer, r *podtrace.Record) {
	fmt.Fprintf(w, "%s %s/%s  (uid %s)\n", strings.ToUpper(string(r.Kind)), r.Namespace, r.Name, r.UID)
	state := "finished"
	if r.Finished == nil {
		state = "still open"
	}
	fmt.Fprintf(w, "  outcome %s after %s (%s)", r.Outcome, duration(r), state)
	if r.Node != "" {
		fmt.Fprintf(w, " on node %s", r.Node)
	}
	if r.OwnerKind != "" {
		fmt.Fprintf(w, ", owned by %s %s", r.OwnerKind, r.OwnerName)
	}
	fmt.Fprintln(w)
	if r.SLO != nil {
		verdict := "undecided"
		if r.SLO.Met != nil {
			verdict = map[bool]string{true: "met", false: "VIOLATED"}[*r.SLO.Met]
		}
		fmt.Fprintf(w, "  SLO %s: platform %.1fs of %.0fs target (user %.1fs, total %.1fs; rule %s)\n",
			verdict, r.SLO.PlatformSeconds, r.SLO.TargetSeconds, r.SLO.UserSeconds, r.SLO.TotalSeconds, r.SLO.Rule)
	}
	if len(r.Diagnosis) > 0 {
		fmt.Fprintln(w, "\n  Why:")
		for i, f := range r.Diagnosis {
			fmt.Fprintf(w, "  %d. %s (%s, %s's side): %s\n", i+1, f.Code, f.Phase, f.Owner, f.Message)
			for _, e := range f.Evidence {
				fmt.Fprintf(w, "     evidence %s  %s\n", e.Time.Format("15:04:05.000"), e.Text)
			}
			if f.Remedy != "" {
				fmt.Fprintf(w, "     fix: %s\n", f.Remedy)
			}
		}
	}
	writeTimeline(w, r)
	fmt.Fprintln(w)
}

// writeTimeline draws the phases as a bar chart over the delivery's span.
func writeTimeline(w io.Writer, r *podtrace.Record) {
	if len(r.Phases) == 0 {
		return
	}
	const width = 40
	start := r.Created
	end := r.Phases[len(r.Phases)-1].End
	if r.Finished != nil && r.Finished.After(end) {
		end = *r.Finished
	}
	span := end.Sub(start)
	if span <= 0 {
		span = time.Millisecond
	}
	fmt.Fprintln(w, "\n  Timeline:")
	col := func(t time.Time) int {
		c := int(float64(t.Sub(start)) / float64(span) * width)
		return max(0, min(width, c))
	}
	for _, ph := range r.Phases {
		a, b := col(ph.Start), col(ph.End)
		if b == a && b < width {
			b = a + 1
		}
		mark := "#"
		if ph.Owner == podtrace.OwnerUser {
			mark = "="
		}
		bar := strings.Repeat(" ", a) + strings.Repeat(mark, b-a) + strings.Repeat(" ", width-b)
		fmt.Fprintf(w, "  %-12s |%s| %9s  %s\n", ph.Name, bar, ph.End.Sub(ph.Start).Round(time.Millisecond), ph.Owner)
	}
	fmt.Fprintln(w, "  (# platform time, = user time)")
	fmt.Fprintln(w, "\n  Milestones:")
	for _, m := range r.Milestones {
		fmt.Fprintf(w, "  +%-10s %-20s audit %s\n", m.Time.Sub(start).Round(time.Millisecond), m.Name, m.AuditID)
	}
}
