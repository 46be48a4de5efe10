package diagnosis

import (
	"errors"
	"fmt"
	"time"
)

// Config holds the thresholds that decide when a delivery, or one of its
// phases, is slow. They are read in event time only (see Now).
type Config struct {
	// SchedulingSlow: a pod that waited longer than this for a node, with
	// no scheduler message explaining why, gets SchedulingSlow.
	SchedulingSlow time.Duration `yaml:"scheduling_slow"`
	// VolumeMountSlow: a pod with attachable volumes (PVC, CSI, ephemeral,
	// NFS, ...) whose node took longer than this to mount them.
	VolumeMountSlow time.Duration `yaml:"volume_mount_slow"`
	// KubeletDelay: a pod bound to a node that showed no sign of acting on
	// it (no status, no event, no sandbox) for longer than this.
	KubeletDelay time.Duration `yaml:"kubelet_delay"`
	// ImagePullSlow: pulling the images took longer than this.
	ImagePullSlow time.Duration `yaml:"image_pull_slow"`
	// ReadinessSlow: from all containers started to Ready took longer.
	ReadinessSlow time.Duration `yaml:"readiness_slow"`
	// TerminationSlack: a delete that is not done this long after the
	// pod's grace period ran out is TerminationSlow.
	TerminationSlack time.Duration `yaml:"termination_slack"`
	// SlowDelivery: a finished create or upgrade delivery longer than this
	// is explained even if no single phase crossed its threshold, and one
	// that finished faster is healthy: it gets no findings at all.
	SlowDelivery time.Duration `yaml:"slow_delivery"`
	// PendingTooLong: an open delivery older than this gets a finding
	// (Unknown, if no rule recognises its problem).
	PendingTooLong time.Duration `yaml:"pending_too_long"`

	// Now is the event-time clock: the latest audit event time the
	// pipeline has seen (lifecycle.Machine.Now). It lets an open delivery
	// age while its pod is silent. Nil means the pod's own latest event
	// time; the wall clock is never read.
	Now func() time.Time `yaml:"-"`
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		SchedulingSlow:   15 * time.Second,
		VolumeMountSlow:  60 * time.Second,
		KubeletDelay:     30 * time.Second,
		ImagePullSlow:    60 * time.Second,
		ReadinessSlow:    60 * time.Second,
		TerminationSlack: 15 * time.Second,
		SlowDelivery:     90 * time.Second,
		PendingTooLong:   5 * time.Minute,
	}
}

// Validate reports every invalid field, joined, each with its key path.
func (c *Config) Validate() error {
	var errs []error
	for _, f := range []struct {
		key string
		d   time.Duration
	}{
		{"scheduling_slow", c.SchedulingSlow},
		{"volume_mount_slow", c.VolumeMountSlow},
		{"kubelet_delay", c.KubeletDelay},
		{"image_pull_slow", c.ImagePullSlow},
		{"readiness_slow", c.ReadinessSlow},
		{"termination_slack", c.TerminationSlack},
		{"slow_delivery", c.SlowDelivery},
		{"pending_too_long", c.PendingTooLong},
	} {
		if f.d <= 0 {
			errs = append(errs, fmt.Errorf("diagnosis.%s: must be positive, got %v", f.key, f.d))
		}
	}
	if c.SlowDelivery > 0 && c.PendingTooLong > 0 && c.PendingTooLong < c.SlowDelivery {
		errs = append(errs, fmt.Errorf("diagnosis.pending_too_long: %v is shorter than slow_delivery %v", c.PendingTooLong, c.SlowDelivery))
	}
	return errors.Join(errs...)
}
