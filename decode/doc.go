// Package decode turns kube-apiserver audit JSON (single Events, EventLists as
// the webhook backend posts them, JSON lines of either) into typed audit
// events, decoding each event once and only the fields podtrace uses: the
// audit envelope, and for pods and Events about pods the object bodies.
// Everything else is skipped by a pull scanner without being decoded.
//
// It also redacts what podtrace must never keep (environment variable and
// HTTP header values, container args and commands, Secret data, tokens,
// last-applied-configuration, managedFields; see Redactor) from the bytes it
// hands on for storage.
package decode
