// Package crashtest runs the real podtrace binary and hurts it: SIGKILL at
// random moments while clients post webhook batches (nothing acknowledged
// may be lost or counted twice, open pods must resume), two replicas on
// one PostgreSQL, and clients posting faster than it can journal (503,
// never a timeout; memory bounded). The tests build ./cmd/podtrace once
// and talk to it over loopback HTTP only; PostgreSQL cases run when
// PODTRACE_TEST_POSTGRES is set (scripts/with-postgres.sh).
package crashtest
