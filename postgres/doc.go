// Package postgres is podtrace's shared store: a podtrace.Store on
// PostgreSQL (pgx), for many podtrace instances — one per Kubernetes
// cluster, each writing rows tagged with its cluster name — and for
// replicas of one instance. Versioned migrations are embedded and applied
// under an advisory lock, so instances starting together migrate once.
//
// # Replicas
//
// Two or more podtrace processes may serve the same cluster against one
// database (behind one Service, each apiserver's webhook batches landing on
// either). They stay correct because:
//
//   - The journal de-duplicates: an event (auditID/stage) is stored once per
//     cluster, whichever replica received it, however often it was resent.
//   - Journal appends of a cluster are serialised by a transaction-scoped
//     advisory lock, so journal seqs are handed out in commit order: a
//     reader that has seen seq N has seen every event below N.
//   - Each replica runs its pipeline with a shared journal
//     (ingest.Config.SharedJournal): it applies the whole journal of its
//     cluster in seq order, its own events and the other replicas', so
//     every replica computes the same pod states (a pod's state is an
//     order-independent aggregate of its events, see package lifecycle).
//   - Saves are monotone: a pod state or record saved at journal position N
//     never replaces one saved at a later position, and the cluster's
//     applied position only grows. A slow replica cannot roll a pod back,
//     and recovery from the applied position re-applies every event that
//     a saved state may lack.
//   - Side effects that must happen once per closed record (delivery
//     metrics, trace export) happen in one replica: before each save a
//     replica claims the commit's closed records (ClaimReports, an INSERT
//     ... ON CONFLICT DO NOTHING into reports keyed by cluster, uid, kind
//     and seq), and only the replica whose claim inserted the row reports
//     the record.
//
// Replicas run one version of podtrace: a migration may add a column that
// every save writes (migration 3: the record's brief and its component
// trace ids), which a replica of an older version would leave stale.
//
// # Text
//
// PostgreSQL text cannot hold NUL bytes or invalid UTF-8, which hostile or
// broken audit events may carry in names and ids; such bytes are replaced
// (U+FFFD) in the indexed text columns. Event and record bodies are stored
// as the bytes received (bytea), so nothing is lost there.
package postgres
