package correlate

// index maps keys to pod uids, forgetting the oldest key beyond its bound.
type index[K comparable] struct {
	m     map[K]string
	ring  []K
	next  int
	limit int
}

func newIndex[K comparable](limit int) *index[K] {
	return &index[K]{m: make(map[K]string), limit: limit}
}

func (x *index[K]) get(k K) (string, bool) {
	uid, ok := x.m[k]
	return uid, ok
}

func (x *index[K]) put(k K, uid string) {
	if _, ok := x.m[k]; ok {
		x.m[k] = uid
		return
	}
	if len(x.ring) < x.limit {
		x.ring = append(x.ring, k)
	} else {
		delete(x.m, x.ring[x.next])
		x.ring[x.next] = k
		x.next = (x.next + 1) % x.limit
	}
	x.m[k] = uid
}
