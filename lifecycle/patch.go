package lifecycle

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/podtrace/podtrace/decode"
)

// The patch appliers are used only when an audit policy logs request bodies
// but not responses (Request level): then a status patch must be applied to
// what podtrace knows of the pod to see the new status. With responses
// logged (RequestResponse), the response body is the truth and no patch is
// applied.

// unstatus turns the status snapshot back into a decoded status.
func unstatus(s Status) decode.PodStatus {
	st := decode.PodStatus{Phase: s.Phase, Reason: s.Reason, Message: s.Message, PodIP: s.PodIP}
	st.Conditions = append([]decode.Condition(nil), s.Conditions...)
	st.Containers = uncontainers(s.Containers)
	st.InitContainers = uncontainers(s.Init)
	return st
}

func uncontainers(cs []ContainerState) []decode.ContainerStatus {
	var out []decode.ContainerStatus
	for _, c := range cs {
		out = append(out, decode.ContainerStatus{
			Name: c.Name, Image: c.Image, Ready: c.Ready, Restarts: c.Restarts,
			State: decode.ContainerState{Kind: c.State, Reason: c.Reason, ExitCode: c.ExitCode},
		})
	}
	return out
}

// mergeStatus applies a strategic-merge patch of a pod status (decoded as a
// partial pod) to the current status: scalar fields replace, conditions
// merge by type, container statuses by name.
func mergeStatus(cur Status, patch *decode.PodStatus) decode.PodStatus {
	st := unstatus(cur)
	if patch.Phase != "" {
		st.Phase = patch.Phase
	}
	if patch.Reason != "" {
		st.Reason = patch.Reason
	}
	if patch.Message != "" {
		st.Message = patch.Message
	}
	if patch.PodIP != "" {
		st.PodIP = patch.PodIP
	}
	for _, c := range patch.Conditions {
		if i := condIndex(st.Conditions, c.Type); i >= 0 {
			st.Conditions[i] = c
		} else {
			st.Conditions = append(st.Conditions, c)
		}
	}
	st.Containers = mergeContainers(st.Containers, patch.Containers)
	st.InitContainers = mergeContainers(st.InitContainers, patch.InitContainers)
	return st
}

func condIndex(cs []decode.Condition, typ string) int {
	for i := range cs {
		if cs[i].Type == typ {
			return i
		}
	}
	return -1
}

func mergeContainers(cur, patch []decode.ContainerStatus) []decode.ContainerStatus {
	for _, p := range patch {
		found := false
		for i := range cur {
			if cur[i].Name == p.Name {
				cur[i] = p
				found = true
			}
		}
		if !found {
			cur = append(cur, p)
		}
	}
	return cur
}

// Errors of the JSON patch applier.
var (
	ErrPatchOp   = errors.New("unsupported JSON patch operation")
	ErrPatchPath = errors.New("JSON patch path not found")
	// ErrPatchTooLarge: the patch's copy operations would grow the document
	// past maxPatchCopy values (each copy of a value into itself doubles it).
	ErrPatchTooLarge = errors.New("JSON patch copies too much")
)

// maxPatchCopy bounds what one patch may copy in all, counted as one per
// JSON value plus the bytes of its strings and keys; real status patches
// copy nothing or a few kB.
const maxPatchCopy = 1 << 20

// applyJSONPatch applies an RFC 6902 JSON patch (as kubectl and clients send
// for pods/status) to the pod's status and returns the result.
func applyJSONPatch(p *Pod, patch []byte) (*decode.PodStatus, error) {
	cur := unstatus(p.Status)
	doc, err := statusDoc(&cur)
	if err != nil {
		return nil, err
	}
	out, err := ApplyJSONPatch(doc, patch)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encode patched pod: %w", err)
	}
	pod, err := decode.DecodePod(b)
	if err != nil {
		return nil, fmt.Errorf("decode patched pod: %w", err)
	}
	return &pod.Status, nil
}

// statusDoc renders a status as a generic pod document {"status": {...}}.
func statusDoc(st *decode.PodStatus) (any, error) {
	conds := make([]any, 0, len(st.Conditions))
	for _, c := range st.Conditions {
		conds = append(conds, map[string]any{"type": c.Type, "status": c.Status, "reason": c.Reason, "message": c.Message})
	}
	ctrs := func(cs []decode.ContainerStatus) []any {
		out := make([]any, 0, len(cs))
		for _, c := range cs {
			state := map[string]any{}
			if c.State.Kind != "" {
				state[c.State.Kind] = map[string]any{"reason": c.State.Reason, "exitCode": c.State.ExitCode}
			}
			out = append(out, map[string]any{"name": c.Name, "image": c.Image, "ready": c.Ready, "restartCount": c.Restarts, "state": state})
		}
		return out
	}
	return map[string]any{"status": map[string]any{
		"phase": st.Phase, "reason": st.Reason, "message": st.Message, "podIP": st.PodIP,
		"conditions": conds, "containerStatuses": ctrs(st.Containers), "initContainerStatuses": ctrs(st.InitContainers),
	}}, nil
}

// ApplyJSONPatch applies an RFC 6902 patch to a generic JSON document (as
// encoding/json decodes into any) and returns the new document. Operations:
// add, remove, replace, test, move, copy. The input document is modified.
func ApplyJSONPatch(doc any, patch []byte) (any, error) {
	var ops []struct {
		Op    string          `json:"op"`
		Path  string          `json:"path"`
		From  string          `json:"from"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(patch, &ops); err != nil {
		return nil, fmt.Errorf("JSON patch: %w", err)
	}
	copied := 0
	for i, op := range ops {
		var err error
		var val any
		if len(op.Value) > 0 {
			if err := json.Unmarshal(op.Value, &val); err != nil {
				return nil, fmt.Errorf("JSON patch op %d value: %w", i, err)
			}
		}
		switch op.Op {
		case "add":
			doc, err = patchSet(doc, op.Path, val, true)
		case "replace":
			doc, err = patchSet(doc, op.Path, val, false)
		case "remove":
			doc, _, err = patchRemove(doc, op.Path)
		case "test":
			var got any
			got, err = patchGet(doc, op.Path)
			if err == nil {
				a, _ := json.Marshal(got)
				b, _ := json.Marshal(val)
				if string(a) != string(b) {
					err = fmt.Errorf("test failed at %q", op.Path)
				}
			}
		case "move", "copy":
			var v any
			if op.Op == "move" {
				doc, v, err = patchRemove(doc, op.From)
			} else if v, err = patchGet(doc, op.From); err == nil {
				// a copy is a new value (RFC 6902), not a shared one
				v, err = copyValue(v, &copied)
			}
			if err == nil {
				doc, err = patchSet(doc, op.Path, v, true)
			}
		default:
			err = fmt.Errorf("%q: %w", op.Op, ErrPatchOp)
		}
		if err != nil {
			return nil, fmt.Errorf("JSON patch op %d (%s %s): %w", i, op.Op, op.Path, err)
		}
	}
	return doc, nil
}

// copyValue deep-copies a generic JSON value, counting what it copies into
// *n and failing past maxPatchCopy.
func copyValue(v any, n *int) (any, error) {
	if s, ok := v.(string); ok {
		*n += len(s)
	}
	if *n++; *n > maxPatchCopy {
		return nil, ErrPatchTooLarge
	}
	switch c := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(c))
		for k, e := range c {
			*n += len(k)
			ce, err := copyValue(e, n)
			if err != nil {
				return nil, err
			}
			out[k] = ce
		}
		return out, nil
	case []any:
		out := make([]any, len(c))
		for i, e := range c {
			ce, err := copyValue(e, n)
			if err != nil {
				return nil, err
			}
			out[i] = ce
		}
		return out, nil
	}
	return v, nil
}

func splitPointer(path string) ([]string, error) {
	if path == "" {
		return nil, nil
	}
	if path[0] != '/' {
		return nil, fmt.Errorf("pointer %q does not start with /: %w", path, ErrPatchPath)
	}
	parts := strings.Split(path[1:], "/")
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
	}
	return parts, nil
}

func patchGet(doc any, path string) (any, error) {
	parts, err := splitPointer(path)
	if err != nil {
		return nil, err
	}
	cur := doc
	for _, p := range parts {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[p]
			if !ok {
				return nil, ErrPatchPath
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(c) {
				return nil, ErrPatchPath
			}
			cur = c[i]
		default:
			return nil, ErrPatchPath
		}
	}
	return cur, nil
}

// patchSet sets (or, with insert, adds) the value at path and returns the
// possibly new root.
func patchSet(doc any, path string, val any, insert bool) (any, error) {
	parts, err := splitPointer(path)
	if err != nil {
		return nil, err
	}
	if len(parts) == 0 {
		return val, nil
	}
	parent, err := patchGet(doc, "/"+strings.Join(escapeAll(parts[:len(parts)-1]), "/"))
	if len(parts) == 1 {
		parent, err = doc, nil
	}
	if err != nil {
		return nil, err
	}
	last := parts[len(parts)-1]
	switch c := parent.(type) {
	case map[string]any:
		if _, ok := c[last]; !ok && !insert {
			return nil, ErrPatchPath
		}
		c[last] = val
		return doc, nil
	case []any:
		var i int
		if last == "-" && insert {
			i = len(c)
		} else if i, err = strconv.Atoi(last); err != nil || i < 0 || i > len(c) || (!insert && i == len(c)) {
			return nil, ErrPatchPath
		}
		var next []any
		if insert {
			next = append(append(append(make([]any, 0, len(c)+1), c[:i]...), val), c[i:]...)
		} else {
			next = c
			next[i] = val
		}
		if len(parts) == 1 {
			return next, nil
		}
		return patchSet(doc, "/"+strings.Join(escapeAll(parts[:len(parts)-1]), "/"), next, false)
	}
	return nil, ErrPatchPath
}

func patchRemove(doc any, path string) (any, any, error) {
	parts, err := splitPointer(path)
	if err != nil || len(parts) == 0 {
		return nil, nil, ErrPatchPath
	}
	parentPath := "/" + strings.Join(escapeAll(parts[:len(parts)-1]), "/")
	var parent any = doc
	if len(parts) > 1 {
		if parent, err = patchGet(doc, parentPath); err != nil {
			return nil, nil, err
		}
	}
	last := parts[len(parts)-1]
	switch c := parent.(type) {
	case map[string]any:
		v, ok := c[last]
		if !ok {
			return nil, nil, ErrPatchPath
		}
		delete(c, last)
		return doc, v, nil
	case []any:
		i, err := strconv.Atoi(last)
		if err != nil || i < 0 || i >= len(c) {
			return nil, nil, ErrPatchPath
		}
		v := c[i]
		next := append(append(make([]any, 0, len(c)-1), c[:i]...), c[i+1:]...)
		if len(parts) == 1 {
			return next, v, nil
		}
		doc, err = patchSet(doc, parentPath, next, false)
		return doc, v, err
	}
	return nil, nil, ErrPatchPath
}

func escapeAll(parts []string) []string {
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = strings.ReplaceAll(strings.ReplaceAll(p, "~", "~0"), "/", "~1")
	}
	return out
}
