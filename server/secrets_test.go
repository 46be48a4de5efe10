package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/postgres"
	"github.com/podtrace/podtrace/server"
	"github.com/podtrace/podtrace/sqlite"
	"github.com/podtrace/podtrace/storetest"
)

// secretEvents are audit events as an apiserver logging at RequestResponse
// level writes them, carrying secrets podtrace must never keep: a pod with
// env values, args and command, probe headers, a last-applied annotation and
// managedFields; a JSON patch setting an arg and an env value; a ServiceAccount
// TokenRequest (what the kubelet asks for a pod's projected token) whose
// response holds the token; a Secret with data and stringData.
var secretEvents = []string{
	`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"0b7b0b1e-0000-4000-8000-000000000001","stage":"ResponseComplete",` +
		`"requestURI":"/api/v1/namespaces/sec/pods","verb":"create","user":{"username":"system:serviceaccount:kube-system:replicaset-controller"},` +
		`"objectRef":{"resource":"pods","namespace":"sec","name":"app-1","apiVersion":"v1"},"responseStatus":{"code":201},` +
		`"requestObject":{"kind":"Pod","apiVersion":"v1","metadata":{"name":"app-1","namespace":"sec","annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"env\":\"SECRET-LAST-APPLIED\"}"}},` +
		`"spec":{"containers":[{"name":"c","image":"app:1","env":[{"name":"DB_PASSWORD","value":"SECRET-ENV-VALUE"},{"name":"FROM_SECRET","valueFrom":{"secretKeyRef":{"name":"db","key":"pw"}}}]}]}},` +
		`"responseObject":{"kind":"Pod","apiVersion":"v1","metadata":{"name":"app-1","namespace":"sec","uid":"5ec0e7a1-0000-4000-8000-000000000001","creationTimestamp":"2026-11-21T20:48:39Z",` +
		`"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"env\":\"SECRET-LAST-APPLIED\"}"},` +
		`"managedFields":[{"manager":"kubectl","operation":"Update","fieldsV1":{"f:spec":{"f:SECRET-MANAGED-FIELDS":{}}}}]},` +
		`"spec":{"containers":[{"name":"c","image":"app:1","command":["/app","--token=SECRET-COMMAND"],"args":["--db-password=SECRET-ARGS"],"env":[{"name":"DB_PASSWORD","value":"SECRET-ENV-VALUE"}],` +
		`"readinessProbe":{"httpGet":{"path":"/ready?token=SECRET-PROBE-PATH","port":8080,"httpHeaders":[{"name":"Authorization","value":"Bearer SECRET-PROBE-HEADER"}]}}}],` +
		`"initContainers":[{"name":"i","image":"init:1","args":["SECRET-INIT-ARGS"],"env":[{"name":"K","value":"SECRET-INIT-ENV"}]}]},` +
		`"status":{"phase":"Pending"}},"requestReceivedTimestamp":"2026-11-21T20:48:39.000000Z","stageTimestamp":"2026-11-21T20:48:39.050000Z"}`,

	`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"0b7b0b1e-0000-4000-8000-000000000002","stage":"ResponseComplete",` +
		`"requestURI":"/api/v1/namespaces/sec/serviceaccounts/default/token","verb":"create","user":{"username":"system:node:n1"},` +
		`"objectRef":{"resource":"serviceaccounts","namespace":"sec","name":"default","apiVersion":"v1","subresource":"token"},"responseStatus":{"code":201},` +
		`"requestObject":{"kind":"TokenRequest","apiVersion":"authentication.k8s.io/v1","spec":{"audiences":["https://kubernetes.default.svc"],"expirationSeconds":3607,` +
		`"boundObjectRef":{"kind":"Pod","apiVersion":"v1","name":"app-1","uid":"5ec0e7a1-0000-4000-8000-000000000001"}}},` +
		`"responseObject":{"kind":"TokenRequest","apiVersion":"authentication.k8s.io/v1","spec":{"boundObjectRef":{"kind":"Pod","name":"app-1","uid":"5ec0e7a1-0000-4000-8000-000000000001"}},` +
		`"status":{"token":"eyJhbGciOiJSUzI1NiJ9.SECRET-SA-TOKEN.sig","expirationTimestamp":"2026-11-21T21:48:39Z"}},` +
		`"requestReceivedTimestamp":"2026-11-21T20:48:39.100000Z","stageTimestamp":"2026-11-21T20:48:39.110000Z"}`,

	`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"0b7b0b1e-0000-4000-8000-000000000003","stage":"ResponseComplete",` +
		`"requestURI":"/api/v1/namespaces/sec/secrets","verb":"create","user":{"username":"admin"},` +
		`"objectRef":{"resource":"secrets","namespace":"sec","name":"db","apiVersion":"v1"},"responseStatus":{"code":201},` +
		`"requestObject":{"kind":"Secret","apiVersion":"v1","metadata":{"name":"db"},"data":{"pw":"U0VDUkVULURBVEE="},"stringData":{"pw2":"SECRET-STRING-DATA"}},` +
		`"responseObject":{"kind":"Secret","apiVersion":"v1","metadata":{"name":"db"},"data":{"pw":"U0VDUkVULURBVEE=","pw2":"U0VDUkVULVNUUklORy1EQVRB"}},` +
		`"requestReceivedTimestamp":"2026-11-21T20:48:39.200000Z","stageTimestamp":"2026-11-21T20:48:39.210000Z"}`,

	// a JSON patch of the pod's spec (kubectl patch --type=json)
	`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"0b7b0b1e-0000-4000-8000-000000000005","stage":"ResponseComplete",` +
		`"requestURI":"/api/v1/namespaces/sec/pods/app-1","verb":"patch","user":{"username":"admin"},"userAgent":"kubectl/v1.34.10",` +
		`"objectRef":{"resource":"pods","namespace":"sec","name":"app-1","uid":"5ec0e7a1-0000-4000-8000-000000000001","apiVersion":"v1"},"responseStatus":{"code":422},` +
		`"requestObject":[{"op":"add","path":"/spec/containers/0/args/-","value":"--api-key=SECRET-PATCH-ARG"},{"op":"add","path":"/spec/containers/0/env/-","value":{"name":"X","value":"SECRET-PATCH-ENV"}}],` +
		`"requestReceivedTimestamp":"2026-11-21T20:48:39.250000Z","stageTimestamp":"2026-11-21T20:48:39.260000Z"}`,

	// kubectl exec with a password on the command line: the command is in
	// the request URI's query
	`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"0b7b0b1e-0000-4000-8000-000000000006","stage":"ResponseComplete",` +
		`"requestURI":"/api/v1/namespaces/sec/pods/app-1/exec?command=mysql\u0026command=-pSECRET-EXEC-URI\u0026container=c\u0026stdin=true\u0026tty=true","verb":"create","user":{"username":"admin"},` +
		`"objectRef":{"resource":"pods","namespace":"sec","name":"app-1","apiVersion":"v1","subresource":"exec"},"responseStatus":{"code":101},` +
		`"requestReceivedTimestamp":"2026-11-21T20:48:39.270000Z","stageTimestamp":"2026-11-21T20:48:39.280000Z"}`,

	// a pod event whose bodies are Secrets (a confused client): still redacted
	`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"0b7b0b1e-0000-4000-8000-000000000004","stage":"ResponseComplete",` +
		`"requestURI":"/api/v1/namespaces/sec/pods/app-1","verb":"update","user":{"username":"admin"},` +
		`"objectRef":{"resource":"pods","namespace":"sec","name":"app-1","uid":"5ec0e7a1-0000-4000-8000-000000000001","apiVersion":"v1"},"responseStatus":{"code":422},` +
		`"requestObject":{"kind":"Secret","apiVersion":"v1","metadata":{"name":"app-1"},"data":{"pw":"U0VDUkVULURBVEE="},"stringData":{"x":"SECRET-STRING-DATA"}},` +
		`"requestReceivedTimestamp":"2026-11-21T20:48:39.300000Z","stageTimestamp":"2026-11-21T20:48:39.310000Z"}`,
}

// secretMarkers are the secret values above (and the ingest token); none
// may appear in the store or the logs.
var secretMarkers = []string{"SECRET-ENV-VALUE", "SECRET-INIT-ENV", "SECRET-LAST-APPLIED", "SECRET-MANAGED-FIELDS", "SECRET-SA-TOKEN",
	"U0VDUkVULURBVEE", "SECRET-STRING-DATA", "U0VDUkVULVNUUklORy1EQVRB", "ingest-T0KEN-secret",
	"SECRET-COMMAND", "SECRET-ARGS", "SECRET-INIT-ARGS", "SECRET-PROBE-HEADER", "SECRET-PATCH-ARG", "SECRET-PATCH-ENV",
	"SECRET-EXEC-URI", "SECRET-PROBE-PATH"}

// syncBuffer is a log sink shared by the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ingestSecrets posts the secret events to a server with the given store,
// checks what its API shows of the pod, and returns its debug-level logs
// once it stopped.
func ingestSecrets(t *testing.T, mod func(*server.Config)) string {
	t.Helper()
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("ingest-T0KEN-secret\n"), 0o600)
	cfg := server.DefaultConfig()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.OTLPGRPCAddr, cfg.OTLPHTTPAddr = "", ""
	cfg.IngestTokenFile = tokenFile
	cfg.Sync = "NORMAL"
	mod(&cfg)
	var logs syncBuffer
	s, err := server.Start(context.Background(), cfg, slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + s.Addr() + "/audit"
	if code, msg := post(t, url, eventList(secretEvents...), map[string]string{"Authorization": "Bearer ingest-T0KEN-secret"}); code != http.StatusOK {
		t.Fatalf("%d %s", code, msg)
	}
	for _, e := range secretEvents { // one by one too, as single Events
		if code, msg := post(t, url, []byte(e), map[string]string{"Authorization": "Bearer ingest-T0KEN-secret"}); code != http.StatusOK {
			t.Fatalf("%d %s", code, msg)
		}
	}
	if code, _ := post(t, url, []byte(secretEvents[0]), map[string]string{"Authorization": "Bearer wrong-" + "ingest-T0KEN-secret"}); code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", code)
	}
	// what the API shows: the record and the pod's audit events, once saved
	const uid = "5ec0e7a1-0000-4000-8000-000000000001"
	var shown []byte
	for try := 0; ; try++ {
		shown = nil
		for _, path := range []string{"/api/v1/pods/" + uid, "/api/v1/pods/" + uid + "/events", "/api/v1/pods?namespace=sec"} {
			resp, err := http.Get("http://" + s.Addr() + path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			shown = append(shown, b...)
		}
		if bytes.Contains(shown, []byte("SECRET-PATCH")) || bytes.Contains(shown, []byte(`"verb":"patch"`)) || try == 100 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	findSecrets(t, "the API", shown)
	if !bytes.Contains(shown, []byte(`"verb":"patch"`)) || !bytes.Contains(shown, []byte("DB_PASSWORD")) || !bytes.Contains(shown, []byte("/exec?command=")) {
		t.Fatalf("the API does not show the pod's events: the test proves nothing\n%.2000s", shown)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return logs.String()
}

func findSecrets(t *testing.T, where string, data []byte) {
	t.Helper()
	for _, m := range secretMarkers {
		if bytes.Contains(data, []byte(m)) {
			i := bytes.Index(data, []byte(m))
			t.Errorf("%s holds secret %q: ...%q...", where, m, data[max(0, i-80):min(len(data), i+40)])
		}
	}
}

// journalBodies checks the journal's bodies as a store reads them
// (decompressed) and returns them.
func journalBodies(t *testing.T, st podtrace.Store) []byte {
	t.Helper()
	evs, err := st.EventsAfter(context.Background(), server.DefaultConfig().Cluster, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var all []byte
	for _, e := range evs {
		all = append(all, e.Body...)
	}
	if len(evs) == 0 || !bytes.Contains(all, []byte("DB_PASSWORD")) {
		t.Fatal("the journal holds no pod event: the test proves nothing")
	}
	findSecrets(t, "the journal", all)
	return all
}

// TestNoSecretsStoredSQLite reads every byte of the database files.
func TestNoSecretsStoredSQLite(t *testing.T) {
	db := filepath.Join(t.TempDir(), "secrets.db")
	logs := ingestSecrets(t, func(c *server.Config) { c.DB = db })
	findSecrets(t, "the log", []byte(logs))
	files, _ := filepath.Glob(db + "*")
	var all []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		findSecrets(t, filepath.Base(f), b)
		all = append(all, b...)
	}
	// the journal's bodies are compressed in the files: read them too
	st, err := sqlite.Open(context.Background(), db, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	all = append(all, journalBodies(t, st)...)
	// the test can fail: the pod and its uid are stored
	if !bytes.Contains(all, []byte("5ec0e7a1-0000-4000-8000-000000000001")) || !bytes.Contains(all, []byte("DB_PASSWORD")) {
		t.Fatal("the pod is not in the database: the test proves nothing")
	}
}

// TestNoSecretsStoredPostgres reads every row of every table as bytes.
func TestNoSecretsStoredPostgres(t *testing.T) {
	dsn := storetest.PostgresDatabase(t)
	logs := ingestSecrets(t, func(c *server.Config) { c.PostgresDSN = dsn })
	findSecrets(t, "the log", []byte(logs))
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'public'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var all []byte
	for _, table := range tables {
		rows, err := conn.Query(ctx, "SELECT * FROM "+pgx.Identifier{table}.Sanitize())
		if err != nil {
			t.Fatal(err)
		}
		var data bytes.Buffer
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				if b, ok := v.([]byte); ok {
					data.Write(b)
				} else {
					fmt.Fprint(&data, v)
				}
				data.WriteByte('\t')
			}
		}
		rows.Close()
		findSecrets(t, "table "+table, data.Bytes())
		all = append(all, data.Bytes()...)
	}
	st, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	all = append(all, journalBodies(t, st)...)
	if !bytes.Contains(all, []byte("5ec0e7a1-0000-4000-8000-000000000001")) || !bytes.Contains(all, []byte("DB_PASSWORD")) || !strings.Contains(strings.Join(tables, " "), "journal") {
		t.Fatal("the pod is not in the database: the test proves nothing")
	}
}
