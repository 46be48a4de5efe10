package slo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the SLO rule file: rules tried in order (the first that
// matches a delivery and has a target for its kind wins), then Default.
type Config struct {
	Rules   []Rule  `yaml:"rules"`
	Default Targets `yaml:"default"`
}

// Targets are the time the platform may take for a delivery.
type Targets struct {
	// Create is the target of create deliveries (and of upgrades).
	Create time.Duration `yaml:"create"`
	// Delete is the target of delete (termination) deliveries.
	Delete time.Duration `yaml:"delete"`
}

// Rule gives the deliveries it matches their targets. A zero target means
// the rule does not apply to that kind: the next rule is tried.
type Rule struct {
	Name    string `yaml:"name"`
	Match   Match  `yaml:"match"`
	Targets `yaml:",inline"`
}

// Match selects deliveries by what their pod is. Every field set must
// hold; an empty Match matches every pod.
type Match struct {
	// Namespaces are names or path.Match patterns ("team-*").
	Namespaces []string `yaml:"namespaces"`
	// Labels must all be present with these values.
	Labels map[string]string `yaml:"labels"`
	// Workload is job (Job, CronJob), service (ReplicaSet, Deployment,
	// StatefulSet, DaemonSet, ReplicationController) or standalone (no
	// controller).
	Workload string `yaml:"workload"`
	// OwnerKinds are controller kinds, for example [StatefulSet].
	OwnerKinds []string `yaml:"owner_kinds"`
	// MinCPU and MinMemory are Kubernetes quantities ("4", "500m", "16Gi")
	// compared with the sum of the containers' requests.
	MinCPU    string `yaml:"min_cpu"`
	MinMemory string `yaml:"min_memory"`
	// GPU, when set, requires the pod to request GPUs (true) or not (false).
	GPU *bool `yaml:"gpu"`
	// MinContainers counts containers and init containers.
	MinContainers int `yaml:"min_containers"`
	// MinVolumes counts the pod's volumes.
	MinVolumes int `yaml:"min_volumes"`
	// PVC, when set, requires the pod to use a PersistentVolumeClaim (or
	// an ephemeral volume, which is one) or not.
	PVC *bool `yaml:"pvc"`
}

// Workload kinds.
const (
	WorkloadJob        = "job"
	WorkloadService    = "service"
	WorkloadStandalone = "standalone"
)

func ptr[T any](v T) *T { return &v }

// DefaultConfig returns the documented default rules (see the package doc).
func DefaultConfig() Config {
	return Config{
		Rules: []Rule{
			{Name: "gpu", Match: Match{GPU: ptr(true)}, Targets: Targets{Create: 5 * time.Minute, Delete: 2 * time.Minute}},
			{Name: "stateful", Match: Match{PVC: ptr(true)}, Targets: Targets{Create: 3 * time.Minute, Delete: 2 * time.Minute}},
			{Name: "large-cpu", Match: Match{MinCPU: "16"}, Targets: Targets{Create: 3 * time.Minute}},
			{Name: "large-memory", Match: Match{MinMemory: "64Gi"}, Targets: Targets{Create: 3 * time.Minute}},
			{Name: "many-containers", Match: Match{MinContainers: 5}, Targets: Targets{Create: 2 * time.Minute}},
			{Name: "many-volumes", Match: Match{MinVolumes: 10}, Targets: Targets{Create: 2 * time.Minute}},
		},
		Default: Targets{Create: 90 * time.Second, Delete: 30 * time.Second},
	}
}

// Parse decodes a rule file strictly (unknown keys fail) and validates it.
// Default targets left out take DefaultConfig's.
func Parse(r io.Reader) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("slo rules: %w", err)
	}
	d := DefaultConfig().Default
	if c.Default.Create == 0 {
		c.Default.Create = d.Create
	}
	if c.Default.Delete == 0 {
		c.Default.Delete = d.Delete
	}
	return c, c.Validate()
}

// ParseBytes is Parse of a byte slice.
func ParseBytes(b []byte) (Config, error) { return Parse(bytes.NewReader(b)) }

// Validate reports every problem, joined, each with its key path.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.Default.Create <= 0 {
		bad("default.create", "must be positive")
	}
	if c.Default.Delete <= 0 {
		bad("default.delete", "must be positive")
	}
	names := map[string]bool{}
	for i, r := range c.Rules {
		key := fmt.Sprintf("rules[%d]", i)
		switch {
		case r.Name == "":
			bad(key+".name", "required")
		case names[r.Name]:
			bad(key+".name", "%q used twice", r.Name)
		}
		names[r.Name] = true
		if r.Create < 0 {
			bad(key+".create", "must be positive")
		}
		if r.Delete < 0 {
			bad(key+".delete", "must be positive")
		}
		if r.Create == 0 && r.Delete == 0 {
			bad(key, "needs a create or a delete target")
		}
		m := r.Match
		for j, ns := range m.Namespaces {
			if _, err := path.Match(ns, ""); err != nil || ns == "" {
				bad(fmt.Sprintf("%s.match.namespaces[%d]", key, j), "bad pattern %q", ns)
			}
		}
		switch m.Workload {
		case "", WorkloadJob, WorkloadService, WorkloadStandalone:
		default:
			bad(key+".match.workload", "%q is not job, service or standalone", m.Workload)
		}
		if _, err := parseQuantity(m.MinCPU, true); err != nil {
			bad(key+".match.min_cpu", "%v", err)
		}
		if _, err := parseQuantity(m.MinMemory, false); err != nil {
			bad(key+".match.min_memory", "%v", err)
		}
		if m.MinContainers < 0 {
			bad(key+".match.min_containers", "must not be negative")
		}
		if m.MinVolumes < 0 {
			bad(key+".match.min_volumes", "must not be negative")
		}
	}
	return errors.Join(errs...)
}

// parseQuantity reads a Kubernetes quantity strictly: in thousandths of a
// unit when milli (CPU), else in whole units (bytes). "" is 0.
func parseQuantity(s string, milli bool) (int64, error) {
	if s == "" {
		return 0, nil
	}
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	num, suffix := s[:i], s[i:]
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("invalid quantity %q", s)
	}
	mul := map[string]float64{
		"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15,
		"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "Pi": 1 << 50,
	}[suffix]
	if mul == 0 || strings.ContainsAny(suffix, " ") {
		return 0, fmt.Errorf("invalid quantity %q", s)
	}
	v := f * mul
	if milli {
		v *= 1000
	}
	return int64(v + 0.5), nil
}
