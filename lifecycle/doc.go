// Package lifecycle reconstructs each pod's deliveries from audit events.
//
// A Machine keeps one Pod per pod uid and applies decoded audit events to it
// through one table of extraction rules (verb, resource, subresource → what
// the event proves), plus a table of status rules (a predicate over an
// observed pod status → milestone) and a table of Event reasons. Records are
// derived from a Pod on demand; nothing else is kept.
//
// # States and transitions
//
// A pod's create delivery moves through
//
//	requested → created → scheduled → [volumes_mounted] → sandbox_ready →
//	[image_pulling → image_pulled] → containers_started → ready
//
// and ends as ready, succeeded or failed, or is cut short as deleted or
// evicted; while open it is pending (or running once its containers run but
// the pod is not Ready). A delete delivery runs delete_requested (or evicted)
// → gone. A change of a running pod's container images opens an upgrade
// delivery that ends when the pod is Ready on the new images.
//
// # Why it copes with disorder
//
// Every piece of state is an order-independent aggregate: a milestone is the
// earliest audit event that proves it, facts (Events, failure reasons) are a
// de-duplicated set, and the latest status snapshot is chosen by its audit
// time, not by arrival. Applying the same events in any order, any number of
// times, gives the same Pod and so the same records. Time comes only from the
// events (stageTimestamp, requestReceivedTimestamp), never from a clock, so
// replaying a file and receiving it live give identical records.
//
// # Clock
//
// The Machine's clock (Now) is event time too: the latest time of an event
// confirmed by another stamped within Config.MaxClockStep of it. An event
// further ahead is applied to its pod but does not move the clock alone, so
// one bad timestamp cannot age every open delivery; the clock depends on
// the set of events, not their order.
//
// Records are derived again when a pod changes, and also when Revisit finds
// a pod with an open delivery silent for a while on that clock: findings and
// SLO verdicts of a stuck delivery depend on its age, not only on its events.
//
// Events that name a pod only by namespace/name (Metadata-level audit, a 404
// delete) are attributed to the incarnation of that name that existed at the
// event's time; if none is known yet they wait, bounded, until one is.
package lifecycle
