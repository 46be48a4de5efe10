package podtrace

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// Cursor is the position after the last record of a page, in the order
// stores list records (newest first, then cluster, uid, kind, seq). Clients
// see it only as the opaque string of RecordFilter.Cursor.
type Cursor struct {
	Created int64  `json:"c"` // unix ns
	Cluster string `json:"l"`
	UID     string `json:"u"`
	Kind    string `json:"k"`
	Seq     int    `json:"s"`
}

// CursorAfter is the cursor of the page that follows r.
func CursorAfter(r *Record) string {
	b, _ := json.Marshal(Cursor{Created: r.Created.UnixNano(), Cluster: r.Cluster, UID: r.UID, Kind: string(r.Kind), Seq: r.Seq})
	return base64.RawURLEncoding.EncodeToString(b)
}

// ParseCursor reads a cursor made by CursorAfter; anything else is ErrBadCursor.
func ParseCursor(s string) (Cursor, error) {
	var c Cursor
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(raw, &c)
	}
	if err != nil {
		return c, fmt.Errorf("cursor: %w", ErrBadCursor)
	}
	return c, nil
}
