package decode

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

// Stages of an audit event that podtrace reads. Others (RequestReceived,
// ResponseStarted) carry no outcome and are skipped.
const (
	StageResponseComplete = "ResponseComplete"
	StagePanic            = "Panic"
)

// Errors at the package boundary; callers count them in one switch.
var (
	ErrNotAudit  = errors.New("not an audit.k8s.io Event or EventList")
	ErrNoAuditID = errors.New("audit event without auditID")
	ErrBadStage  = errors.New("audit event with unknown stage")
	// ErrNoTime: a relevant event with neither stageTimestamp nor
	// requestReceivedTimestamp.
	ErrNoTime = errors.New("audit event without a timestamp")
	// ErrInvalidJSON: a relevant event whose bytes are not strictly valid JSON.
	ErrInvalidJSON = errors.New("invalid JSON")
)

// ObjectRef is the audit event's objectRef.
type ObjectRef struct {
	Resource    string
	Subresource string
	APIGroup    string
	Namespace   string
	Name        string
	UID         string
}

// Event is one audit event about a pod, or about an Event whose subject is a
// pod. Bodies are decoded into Pod and PodEvent when present.
type Event struct {
	AuditID   string
	Stage     string
	Level     string
	Verb      string
	User      string
	UserAgent string
	Ref       ObjectRef
	Code      int
	// Status is the failure message of a rejected request (responseStatus.message).
	Status string
	// Received and Time are requestReceivedTimestamp and stageTimestamp.
	Received time.Time
	Time     time.Time

	// Pod is the pod as the response (or, failing that, the request) shows it.
	Pod *Pod
	// RequestPod is the request body when it is a (partial) pod: a patch or update body.
	RequestPod *Pod
	// Patch is a JSON-patch array body, raw, when the request was one.
	Patch []byte
	// Binding is the node a pods/binding request assigns.
	Binding string
	// DeleteGrace is DeleteOptions.gracePeriodSeconds, or -1.
	DeleteGrace int64
	// Event is the Event (core/v1 or events.k8s.io/v1) this request wrote.
	Event *PodEvent

	// Raw is the event's JSON with secrets and bulk removed (see Redact);
	// it is what gets stored. Set only when the Decoder keeps raw bytes.
	Raw []byte
}

// Key is the event's identity for de-duplication.
func (e *Event) Key() string { return e.AuditID + "/" + e.Stage }

// Succeeded reports whether the request was carried out.
func (e *Event) Succeeded() bool { return e.Code >= 200 && e.Code < 300 }

// PodEvent is a Kubernetes Event about a pod.
type PodEvent struct {
	Namespace string
	Name      string // the Event's own name
	PodName   string
	PodUID    string
	Reason    string
	Message   string
	Type      string // Normal or Warning
	Component string // reporting controller or source component
	Host      string
	Count     int64
	First     time.Time
	Last      time.Time
	FieldPath string // e.g. spec.containers{app}
}

// Stats counts what a Decoder saw.
type Stats struct {
	Events    int64 // audit events read
	Relevant  int64 // events about pods handed on
	Skipped   int64 // well-formed events podtrace has no use for
	Malformed int64 // lines or items that are not valid audit JSON
	Bytes     int64
	LastError error // the latest malformed-item error, for a summary line
}

// Add adds o's counts to s (and keeps o's LastError if it has one): the
// totals of decoders that shared the work.
func (s *Stats) Add(o Stats) {
	s.Events += o.Events
	s.Relevant += o.Relevant
	s.Skipped += o.Skipped
	s.Malformed += o.Malformed
	s.Bytes += o.Bytes
	if o.LastError != nil {
		s.LastError = o.LastError
	}
}

// Decoder decodes audit JSON. It is not safe for concurrent use.
type Decoder struct {
	// KeepRaw makes the decoder attach redacted raw bytes to each relevant
	// event (for storage and for the event API).
	KeepRaw bool
	sc      Scanner
	red     Redactor
	Stats   Stats
}

// Decode decodes one document: an audit Event, or an EventList, calling fn
// for every relevant event. fn must not keep ev's byte slices beyond the
// call unless it copies them (Raw is freshly allocated and may be kept).
// Malformed items are counted and skipped; the error returned is the
// document-level problem, if any.
func (d *Decoder) Decode(doc []byte, fn func(ev *Event)) error {
	d.Stats.Bytes += int64(len(doc))
	d.sc.Reset(doc)
	if d.sc.Peek() != '{' {
		d.Stats.Malformed++
		if d.sc.AtEnd() {
			return fmt.Errorf("empty document: %w", ErrNotAudit)
		}
		return fmt.Errorf("document is not a JSON object: %w", ErrNotAudit)
	}
	var ev Event
	var isList, isEvent bool
	err := d.eventFields(&d.sc, &ev, func(sc *Scanner) error {
		isList = true
		return sc.Array(func() error {
			d.item(sc, doc, fn)
			return sc.Err()
		})
	}, &isEvent)
	if err != nil {
		d.Stats.Malformed++
		return err
	}
	if !d.sc.AtEnd() {
		d.Stats.Malformed++
		return &SyntaxError{Offset: d.sc.Pos(), Msg: "data after the JSON document"}
	}
	if isList {
		return nil
	}
	d.Stats.Events++
	return d.finish(&ev, doc, fn)
}

// item decodes the EventList item at the scanner's cursor, in one pass.
// An item that is not a well-formed audit Event is skipped instead (the
// scanner goes back to its start and jumps over it as a value), and
// counted: the items beside it are still decoded. Only a list whose
// structure breaks stops the scanner.
func (d *Decoder) item(sc *Scanner, doc []byte, fn func(ev *Event)) {
	sc.Peek() // past whitespace: the item starts at the cursor
	m := sc.Mark()
	start := sc.Pos()
	var ev Event
	var isEvent bool
	if err := d.eventFields(sc, &ev, nil, &isEvent); err != nil {
		sc.Rewind(m)
		if sc.Skip(); sc.Err() != nil {
			return // not an item: the list itself is broken
		}
		d.Stats.Events++
		d.Stats.Malformed++
		d.Stats.LastError = err
		return
	}
	d.Stats.Events++
	if err := d.finish(&ev, doc[start:sc.Pos()], fn); err != nil {
		d.Stats.LastError = err
	}
}

func (d *Decoder) finish(ev *Event, doc []byte, fn func(ev *Event)) error {
	if ev.AuditID == "" {
		if ev.Ref.Resource == "" && ev.Verb == "" {
			d.Stats.Malformed++
			return ErrNotAudit
		}
		d.Stats.Malformed++
		return ErrNoAuditID
	}
	switch ev.Stage {
	case StageResponseComplete, StagePanic:
	case "RequestReceived", "ResponseStarted":
		d.Stats.Skipped++
		return nil
	default:
		d.Stats.Malformed++
		return fmt.Errorf("stage %q: %w", ev.Stage, ErrBadStage)
	}
	if !relevant(ev) {
		d.Stats.Skipped++
		return nil
	}
	if ev.Time.IsZero() {
		ev.Time = ev.Received
	}
	if ev.Time.IsZero() {
		d.Stats.Malformed++
		return fmt.Errorf("audit event %s: %w", ev.AuditID, ErrNoTime)
	}
	if d.KeepRaw {
		// the redaction pass is also the strict validation of what is kept
		if ev.Raw = d.red.Redact(doc); ev.Raw == nil {
			d.Stats.Malformed++
			return fmt.Errorf("audit event %s: %w", ev.AuditID, ErrInvalidJSON)
		}
	}
	d.Stats.Relevant++
	fn(ev)
	return nil
}

// relevant says whether podtrace uses the event: writes to pods and their
// subresources, and Events about pods.
func relevant(ev *Event) bool {
	switch ev.Ref.Resource {
	case "pods":
		switch ev.Verb {
		case "create", "update", "patch", "delete":
			return true
		}
	case "events":
		return ev.Event != nil && (ev.Event.PodName != "" || ev.Event.PodUID != "")
	}
	return false
}

// eventFields reads the members of an audit Event (or EventList) object.
// items, when non-nil, is called for an "items" member.
func (d *Decoder) eventFields(sc *Scanner, ev *Event, items func(*Scanner) error, isEvent *bool) error {
	ev.DeleteGrace = -1
	var reqRaw, respRaw []byte
	var kind []byte
	// copied into ev only for pods and events (below): most events of a
	// batch are about other resources, whose strings would be copied only
	// to be dropped
	var user, userAgent, apiGroup, namespace, name, uid, status []byte
	err := sc.Object(func(key []byte) error {
		switch string(key) {
		case "kind":
			kind = sc.Bytes()
		case "apiVersion":
			if v := sc.Bytes(); len(v) > 0 && !bytes.HasPrefix(v, []byte("audit.k8s.io/")) {
				return fmt.Errorf("apiVersion %q: %w", v, ErrNotAudit)
			}
		case "items":
			if items == nil {
				return fmt.Errorf("nested items: %w", ErrNotAudit)
			}
			return items(sc)
		case "auditID":
			ev.AuditID = sc.String()
		case "stage":
			ev.Stage = internStage(sc.Bytes())
		case "level":
			ev.Level = internLevel(sc.Bytes())
		case "verb":
			ev.Verb = internVerb(sc.Bytes())
		case "user":
			return sc.Object(func(k []byte) error {
				if string(k) == "username" {
					user = sc.Bytes()
				} else {
					sc.Skip()
				}
				return nil
			})
		case "userAgent":
			userAgent = sc.Bytes()
		case "objectRef":
			return sc.Object(func(k []byte) error {
				switch string(k) {
				case "resource":
					ev.Ref.Resource = internResource(sc.Bytes())
				case "subresource":
					ev.Ref.Subresource = internResource(sc.Bytes())
				case "apiGroup":
					apiGroup = sc.Bytes()
				case "namespace":
					namespace = sc.Bytes()
				case "name":
					name = sc.Bytes()
				case "uid":
					uid = sc.Bytes()
				default:
					sc.Skip()
				}
				return nil
			})
		case "responseStatus":
			return sc.Object(func(k []byte) error {
				switch string(k) {
				case "code":
					ev.Code = int(sc.Int())
				case "message":
					status = sc.Bytes()
				default:
					sc.Skip()
				}
				return nil
			})
		case "requestObject":
			reqRaw = sc.Raw()
		case "responseObject":
			respRaw = sc.Raw()
		case "requestReceivedTimestamp":
			ev.Received = sc.Time()
		case "stageTimestamp":
			ev.Time = sc.Time()
		default:
			sc.Skip()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if items != nil && len(kind) > 0 && string(kind) != "Event" && string(kind) != "EventList" {
		return fmt.Errorf("kind %q: %w", kind, ErrNotAudit)
	}
	if items == nil && len(kind) > 0 && string(kind) != "Event" {
		return fmt.Errorf("list item of kind %q: %w", kind, ErrNotAudit)
	}
	if ev.AuditID == "" || (ev.Ref.Resource != "pods" && ev.Ref.Resource != "events") {
		return nil
	}
	ev.User, ev.UserAgent, ev.Status = string(user), string(userAgent), string(status)
	ev.Ref.APIGroup, ev.Ref.Namespace, ev.Ref.Name, ev.Ref.UID = string(apiGroup), string(namespace), string(name), string(uid)
	return d.bodies(ev, reqRaw, respRaw)
}

// bodies decodes the request and response objects of a pod or Event write.
func (d *Decoder) bodies(ev *Event, req, resp []byte) error {
	if ev.Ref.Resource == "events" {
		if ev.Verb != "create" && ev.Verb != "patch" && ev.Verb != "update" {
			return nil
		}
		body := resp
		if !isKind(resp, "Event") {
			body = req // Request level, or a patch whose response is missing
		}
		if len(body) == 0 {
			return nil
		}
		pe, err := decodePodEvent(body)
		if err != nil {
			return fmt.Errorf("event body: %w", err)
		}
		if pe.Namespace == "" {
			pe.Namespace = ev.Ref.Namespace
		}
		if pe.Name == "" {
			pe.Name = ev.Ref.Name
		}
		if pe.PodName != "" || pe.PodUID != "" {
			ev.Event = pe
		}
		return nil
	}
	switch ev.Verb {
	case "create", "update", "patch", "delete":
	default:
		return nil
	}
	switch ev.Ref.Subresource {
	case "binding":
		if len(req) > 0 {
			ev.Binding = decodeBindingTarget(req)
		}
		return nil
	case "eviction":
		return nil
	}
	if len(resp) > 0 && isKind(resp, "Pod") {
		p, err := DecodePod(resp)
		if err != nil {
			return fmt.Errorf("response pod: %w", err)
		}
		ev.Pod = p
	}
	if len(req) > 0 {
		switch c := firstByte(req); {
		case c == '[':
			ev.Patch = append([]byte(nil), req...) // the document buffer is reused
		case ev.Verb == "delete":
			ev.DeleteGrace = decodeGrace(req)
		case c == '{':
			p, err := DecodePod(req)
			if err != nil {
				return fmt.Errorf("request pod: %w", err)
			}
			if ev.Pod == nil && ev.Verb == "create" {
				ev.Pod = p
			} else {
				ev.RequestPod = p
			}
		}
	}
	return nil
}

func firstByte(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c
	}
	return 0
}

// isKind reports whether an object's first member is "kind": k.
// Kubernetes writes kind first; an object without it is not of kind k here.
func isKind(obj []byte, k string) bool { return string(kindOf(obj)) == k }

// kindOf returns the value of an object's first member if it is "kind",
// else nil.
func kindOf(obj []byte) []byte {
	if len(obj) == 0 {
		return nil
	}
	var sc Scanner
	sc.Reset(obj)
	var kind []byte
	sc.Object(func(key []byte) error {
		if string(key) == "kind" {
			kind = sc.Bytes()
		}
		return errFound
	})
	return kind
}

var errFound = errors.New("found")

func decodeBindingTarget(b []byte) string {
	var sc Scanner
	sc.Reset(b)
	node := ""
	sc.Object(func(k []byte) error {
		if string(k) != "target" {
			sc.Skip()
			return nil
		}
		return sc.Object(func(k []byte) error {
			if string(k) == "name" {
				node = sc.String()
			} else {
				sc.Skip()
			}
			return nil
		})
	})
	return node
}

func decodeGrace(b []byte) int64 {
	var sc Scanner
	sc.Reset(b)
	g := int64(-1)
	sc.Object(func(k []byte) error {
		if string(k) == "gracePeriodSeconds" {
			g = sc.Int()
		} else {
			sc.Skip()
		}
		return nil
	})
	return g
}

func decodePodEvent(b []byte) (*PodEvent, error) {
	var sc Scanner
	sc.Reset(b)
	pe := &PodEvent{}
	var isPod bool
	var eventTime, series time.Time
	var seriesCount int64
	object := func() error {
		return sc.Object(func(k []byte) error {
			switch string(k) {
			case "kind":
				isPod = string(sc.Bytes()) == "Pod"
			case "name":
				pe.PodName = sc.String()
			case "uid":
				pe.PodUID = sc.String()
			case "fieldPath":
				pe.FieldPath = sc.String()
			default:
				sc.Skip()
			}
			return nil
		})
	}
	err := sc.Object(func(k []byte) error {
		switch string(k) {
		case "metadata":
			return sc.Object(func(k []byte) error {
				switch string(k) {
				case "name":
					pe.Name = sc.String()
				case "namespace":
					pe.Namespace = sc.String()
				default:
					sc.Skip()
				}
				return nil
			})
		case "involvedObject", "regarding":
			return object()
		case "reason":
			pe.Reason = sc.String()
		case "message", "note":
			pe.Message = sc.String()
		case "type":
			pe.Type = sc.String()
		case "count":
			pe.Count = sc.Int()
		case "firstTimestamp", "deprecatedFirstTimestamp":
			if t := sc.Time(); !t.IsZero() {
				pe.First = t
			}
		case "lastTimestamp", "deprecatedLastTimestamp":
			if t := sc.Time(); !t.IsZero() {
				pe.Last = t
			}
		case "eventTime":
			eventTime = sc.Time()
		case "series":
			return sc.Object(func(k []byte) error {
				switch string(k) {
				case "count":
					seriesCount = sc.Int()
				case "lastObservedTime":
					series = sc.Time()
				default:
					sc.Skip()
				}
				return nil
			})
		case "reportingController", "reportingComponent":
			if v := sc.String(); v != "" {
				pe.Component = v
			}
		case "source", "deprecatedSource":
			return sc.Object(func(k []byte) error {
				switch string(k) {
				case "component":
					if v := sc.String(); v != "" && pe.Component == "" {
						pe.Component = v
					}
				case "host":
					pe.Host = sc.String()
				default:
					sc.Skip()
				}
				return nil
			})
		default:
			sc.Skip()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !isPod {
		return &PodEvent{}, nil
	}
	if pe.First.IsZero() {
		pe.First = eventTime
	}
	if seriesCount > pe.Count {
		pe.Count = seriesCount
	}
	if !series.IsZero() && series.After(pe.Last) {
		pe.Last = series
	}
	if pe.Last.IsZero() {
		pe.Last = pe.First
	}
	if pe.Count == 0 {
		pe.Count = 1
	}
	return pe, nil
}

// The intern functions return constant strings for the few values that
// repeat in every event, so decoding them does not allocate.
func internStage(b []byte) string {
	switch string(b) {
	case StageResponseComplete:
		return StageResponseComplete
	case "ResponseStarted":
		return "ResponseStarted"
	case "RequestReceived":
		return "RequestReceived"
	case StagePanic:
		return StagePanic
	}
	return string(b)
}

func internLevel(b []byte) string {
	switch string(b) {
	case "Metadata":
		return "Metadata"
	case "Request":
		return "Request"
	case "RequestResponse":
		return "RequestResponse"
	case "None":
		return "None"
	}
	return string(b)
}

func internVerb(b []byte) string {
	switch string(b) {
	case "get":
		return "get"
	case "list":
		return "list"
	case "watch":
		return "watch"
	case "create":
		return "create"
	case "update":
		return "update"
	case "patch":
		return "patch"
	case "delete":
		return "delete"
	case "deletecollection":
		return "deletecollection"
	}
	return string(b)
}

func internResource(b []byte) string {
	switch string(b) {
	case "pods":
		return "pods"
	case "events":
		return "events"
	case "binding":
		return "binding"
	case "status":
		return "status"
	case "eviction":
		return "eviction"
	case "":
		return ""
	}
	return string(b)
}
