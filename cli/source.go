package cli

// Where pods and explain read delivery records: the SQLite database
// (--db), or a running podtrace's REST API (--server), which is what the
// kubectl plugin uses. Both give the same records in the same order, so
// the commands render them with the same code.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/api"
	"github.com/podtrace/podtrace/auth"
)

// recordSource lists delivery records, newest first, like podtrace.Store.
type recordSource interface {
	Records(ctx context.Context, f podtrace.RecordFilter) ([]podtrace.Record, string, error)
	Close() error
}

// reader is the program pods and explain run in: podtrace, which reads
// its database unless given --server, or the kubectl plugin, which reads
// a podtrace's API unless given --db.
type reader struct {
	prog string // "podtrace" or "kubectl podtrace"
	// server is the default of --server; "" reads the database.
	server string
}

// podtraceReader reads the database by default.
func podtraceReader() reader { return reader{prog: "podtrace"} }

// kubectlReader reads the API at $PODTRACE_SERVER, else at
// http://127.0.0.1:8080 (kubectl port-forward svc/podtrace 8080).
func kubectlReader() reader {
	server := os.Getenv("PODTRACE_SERVER")
	if server == "" {
		server = "http://127.0.0.1:8080"
	}
	return reader{prog: "kubectl podtrace", server: server}
}

// sourceFlags are the flags choosing the record source.
type sourceFlags struct {
	fs                *flag.FlagSet
	store             func() string // --db or --postgres-dsn
	server, tokenFile *string
}

func (rd reader) flags(fs *flag.FlagSet) sourceFlags {
	return sourceFlags{
		fs:        fs,
		store:     storeFlag(fs),
		server:    fs.String("server", rd.server, "read a podtrace's REST API at this URL instead of a database (http://host:8080)"),
		tokenFile: fs.String("token-file", os.Getenv("PODTRACE_TOKEN_FILE"), "with --server: file holding the API's bearer token (api_token_file)"),
	}
}

// open opens the source the flags name, and says what it is for messages.
func (s sourceFlags) open(ctx context.Context) (recordSource, string, error) {
	set := map[string]bool{}
	s.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	local := set["db"] || set["postgres-dsn"]
	if local && set["server"] {
		return nil, "", fmt.Errorf("--db or --postgres-dsn, and --server: give one")
	}
	if *s.server == "" || local {
		where := s.store()
		if err := mustExist(where); err != nil {
			return nil, "", err
		}
		st, err := openStore(ctx, where, "")
		return st, storeName(where), err
	}
	src, err := newAPISource(*s.server, *s.tokenFile)
	return src, *s.server, err
}

// apiSource reads records from a podtrace's REST API: GET /api/v1/pods
// selects and orders them, GET /api/v1/pods/{uid} has them in full.
type apiSource struct {
	base   *url.URL
	token  string
	client *http.Client
	pods   map[[2]string][]podtrace.Record // by cluster, uid
}

func newAPISource(server, tokenFile string) (*apiSource, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--server %q: want an http:// or https:// URL", server)
	}
	a := &apiSource{base: u, client: &http.Client{Timeout: 30 * time.Second}, pods: map[[2]string][]podtrace.Record{}}
	if tokenFile != "" {
		if a.token, err = auth.LoadToken(tokenFile); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func (a *apiSource) Close() error { return nil }

// maxPage is the API's largest page.
const maxPage = 1000

func (a *apiSource) Records(ctx context.Context, f podtrace.RecordFilter) ([]podtrace.Record, string, error) {
	if f.TraceID != "" {
		return nil, "", errors.New("the API lists no records by trace id")
	}
	if f.UID != "" {
		recs, err := a.pod(ctx, f.Cluster, f.UID)
		if errors.Is(err, podtrace.ErrNotFound) {
			return nil, "", nil
		}
		if err != nil {
			return nil, "", err
		}
		recs = slices.Clone(recs)
		slices.Reverse(recs) // the API gives a pod's deliveries oldest first
		if f.Limit > 0 && len(recs) > f.Limit {
			recs = recs[:f.Limit]
		}
		return recs, "", nil
	}
	q := url.Values{}
	for k, v := range map[string]string{
		"cluster": f.Cluster, "namespace": f.Namespace, "name": f.Name, "kind": string(f.Kind),
		"outcome": string(f.Outcome), "code": f.Code, "owner": string(f.Owner), "node": f.Node,
	} {
		if v != "" {
			q.Set(k, v)
		}
	}
	for k, t := range map[string]time.Time{"since": f.Since, "until": f.Until} {
		if !t.IsZero() {
			q.Set(k, t.Format(time.RFC3339Nano))
		}
	}
	var recs []podtrace.Record
	next := f.Cursor
	for {
		want := maxPage
		if f.Limit > 0 {
			want = min(maxPage, f.Limit-len(recs))
		}
		q.Set("limit", strconv.Itoa(want))
		if next != "" {
			q.Set("cursor", next)
		}
		var page api.Page
		if err := a.get(ctx, "/api/v1/pods", q, &page); err != nil {
			return nil, "", err
		}
		for _, s := range page.Items {
			r, err := a.record(ctx, s)
			if err != nil {
				return nil, "", err
			}
			recs = append(recs, r)
		}
		next = ""
		if page.Next != nil {
			next = *page.Next
		}
		if next == "" || (f.Limit > 0 && len(recs) >= f.Limit) {
			return recs, next, nil
		}
	}
}

// record is the full record a list item summarizes.
func (a *apiSource) record(ctx context.Context, s api.PodSummary) (podtrace.Record, error) {
	recs, err := a.pod(ctx, s.Cluster, s.UID)
	if err != nil {
		return podtrace.Record{}, err
	}
	for _, r := range recs {
		if r.Cluster == s.Cluster && r.Kind == s.Kind && r.Seq == s.Seq {
			return r, nil
		}
	}
	return podtrace.Record{}, fmt.Errorf("pod %s lists no %s delivery %d", s.UID, s.Kind, s.Seq)
}

// pod returns every delivery of a pod, oldest first, once per pod.
func (a *apiSource) pod(ctx context.Context, cluster, uid string) ([]podtrace.Record, error) {
	key := [2]string{cluster, uid}
	if recs, ok := a.pods[key]; ok {
		return recs, nil
	}
	q := url.Values{}
	if cluster != "" {
		q.Set("cluster", cluster)
	}
	var p api.Pod
	if err := a.get(ctx, "/api/v1/pods/"+url.PathEscape(uid), q, &p); err != nil {
		return nil, err
	}
	a.pods[key] = p.Deliveries
	return p.Deliveries, nil
}

// get fetches path (below the server URL's own path, so a proxy prefix
// such as kubectl proxy's service path works) into v.
func (a *apiSource) get(ctx context.Context, path string, q url.Values, v any) error {
	u := *a.base
	u.Path = u.JoinPath(path).Path
	u.RawPath = ""
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("GET %s: %w", u.Redacted(), err)
	}
	if resp.StatusCode != http.StatusOK {
		var e api.ErrorBody
		msg := string(bytes.TrimSpace(body[:min(len(body), 512)])) // a proxy's error page may be long
		if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
			msg = e.Error.Message
			if e.Error.Code == api.CodeNotFound {
				return fmt.Errorf("GET %s: %s: %w", u.Redacted(), msg, podtrace.ErrNotFound)
			}
		}
		return fmt.Errorf("GET %s: %s: %s", u.Redacted(), resp.Status, msg)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", u.Redacted(), err)
	}
	return nil
}
