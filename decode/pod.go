package decode

import (
	"time"
)

// Pod is the part of a pod object podtrace reads. Fields absent from the
// object are zero; HasSpec and HasStatus tell a partial body (a patch) from a
// whole pod. Environment variables are never decoded.
type Pod struct {
	Name, Namespace, UID, GenerateName string
	ResourceVersion                    string
	Generation                         int64
	Created                            time.Time
	Deleted                            time.Time // metadata.deletionTimestamp
	DeletionGrace                      int64     // metadata.deletionGracePeriodSeconds, -1 if absent
	Finalizers                         []string
	Labels                             map[string]string
	OwnerKind, OwnerName               string // the controller owner reference

	HasSpec bool
	Spec    PodSpec

	HasStatus bool
	Status    PodStatus
}

// PodSpec is the part of a pod spec podtrace reads.
type PodSpec struct {
	NodeName          string
	SchedulerName     string
	PriorityClass     string
	RestartPolicy     string
	Containers        []Container
	InitContainers    []Container
	Volumes           []Volume
	NodeSelector      int // number of node selector terms
	HasAffinity       bool
	Tolerations       int
	SchedulingGates   []string
	ReadinessGates    []string
	TerminationGrace  int64 // -1 if absent
	ActiveDeadline    int64
	HostNetwork       bool
	RuntimeClass      string
	ServiceAccount    string
	EphemeralPresent  bool
	RequestsMilliCPU  int64 // sum over containers
	RequestsMemory    int64 // bytes, sum over containers
	RequestsGPU       int64 // nvidia.com/gpu, amd.com/gpu, ... summed
	HasExtendedRes    bool
	ImagePullPolicies []string
}

// Container is one container of a spec.
type Container struct {
	Name          string
	Image         string
	PullPolicy    string
	Readiness     bool
	Startup       bool
	Liveness      bool
	PostStart     bool
	RestartAlways bool // a sidecar init container (restartPolicy: Always)
}

// Volume is one volume of a spec, with what it refers to.
type Volume struct {
	Name string
	Kind string // persistentVolumeClaim, configMap, secret, projected, emptyDir, hostPath, csi, ephemeral, other
	Ref  string // claim, ConfigMap or Secret name
}

// PodStatus is the part of a pod status podtrace reads.
type PodStatus struct {
	Phase             string
	Reason            string
	Message           string
	PodIP             string
	HostIP            string
	NominatedNode     string
	StartTime         time.Time
	Conditions        []Condition
	Containers        []ContainerStatus
	InitContainers    []ContainerStatus
	HasContainers     bool // containerStatuses was present (even if empty)
	HasInitContainers bool
}

// Condition is one pod condition.
type Condition struct {
	Type, Status, Reason, Message string
	Transition                    time.Time
}

// Condition returns the condition of the given type, or nil.
func (s *PodStatus) Condition(typ string) *Condition {
	for i := range s.Conditions {
		if s.Conditions[i].Type == typ {
			return &s.Conditions[i]
		}
	}
	return nil
}

// ContainerStatus is one container's status.
type ContainerStatus struct {
	Name     string
	Image    string
	Ready    bool
	Started  bool
	Restarts int64
	State    ContainerState
	Last     ContainerState
}

// ContainerState is the state of a container: waiting, running or terminated.
type ContainerState struct {
	Kind       string // "", waiting, running, terminated
	Reason     string
	Message    string
	ExitCode   int64
	StartedAt  time.Time
	FinishedAt time.Time
}

// DecodePod decodes a pod object (or a partial one, such as a strategic
// merge patch body).
func DecodePod(b []byte) (*Pod, error) {
	var sc Scanner
	sc.Reset(b)
	p := &Pod{DeletionGrace: -1}
	p.Spec.TerminationGrace = -1
	err := sc.Object(func(k []byte) error {
		switch string(k) {
		case "metadata":
			return podMeta(&sc, p)
		case "spec":
			p.HasSpec = true
			return podSpec(&sc, &p.Spec)
		case "status":
			p.HasStatus = true
			return podStatus(&sc, &p.Status)
		default:
			sc.Skip()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

func podMeta(sc *Scanner, p *Pod) error {
	return sc.Object(func(k []byte) error {
		switch string(k) {
		case "name":
			p.Name = sc.String()
		case "namespace":
			p.Namespace = sc.String()
		case "uid":
			p.UID = sc.String()
		case "generateName":
			p.GenerateName = sc.String()
		case "resourceVersion":
			p.ResourceVersion = sc.String()
		case "generation":
			p.Generation = sc.Int()
		case "creationTimestamp":
			p.Created = sc.Time()
		case "deletionTimestamp":
			p.Deleted = sc.Time()
		case "deletionGracePeriodSeconds":
			if sc.Peek() != 'n' {
				p.DeletionGrace = sc.Int()
			} else {
				sc.Skip()
			}
		case "finalizers":
			return sc.Array(func() error {
				p.Finalizers = append(p.Finalizers, sc.String())
				return nil
			})
		case "labels":
			return sc.Object(func(k []byte) error {
				if p.Labels == nil {
					p.Labels = make(map[string]string, 4)
				}
				key := string(k)
				p.Labels[key] = sc.String()
				return nil
			})
		case "ownerReferences":
			return sc.Array(func() error {
				var kind, name string
				var controller bool
				err := sc.Object(func(k []byte) error {
					switch string(k) {
					case "kind":
						kind = sc.String()
					case "name":
						name = sc.String()
					case "controller":
						controller = sc.Bool()
					default:
						sc.Skip()
					}
					return nil
				})
				if controller || p.OwnerKind == "" {
					p.OwnerKind, p.OwnerName = kind, name
				}
				return err
			})
		default:
			sc.Skip() // managedFields, annotations, ...
		}
		return nil
	})
}

func podSpec(sc *Scanner, s *PodSpec) error {
	return sc.Object(func(k []byte) error {
		switch string(k) {
		case "nodeName":
			s.NodeName = sc.String()
		case "schedulerName":
			s.SchedulerName = sc.String()
		case "priorityClassName":
			s.PriorityClass = sc.String()
		case "restartPolicy":
			s.RestartPolicy = sc.String()
		case "runtimeClassName":
			s.RuntimeClass = sc.String()
		case "serviceAccountName":
			s.ServiceAccount = sc.String()
		case "hostNetwork":
			s.HostNetwork = sc.Bool()
		case "terminationGracePeriodSeconds":
			s.TerminationGrace = sc.Int()
		case "activeDeadlineSeconds":
			s.ActiveDeadline = sc.Int()
		case "containers":
			return containers(sc, s, &s.Containers, true)
		case "initContainers":
			return containers(sc, s, &s.InitContainers, false)
		case "ephemeralContainers":
			s.EphemeralPresent = true
			sc.Skip()
		case "volumes":
			return sc.Array(func() error {
				var v Volume
				err := sc.Object(func(k []byte) error {
					switch key := string(k); key {
					case "name":
						v.Name = sc.String()
					case "persistentVolumeClaim":
						v.Kind = key
						return refName(sc, "claimName", &v.Ref)
					case "configMap":
						v.Kind = key
						return refName(sc, "name", &v.Ref)
					case "secret":
						v.Kind = key
						return refName(sc, "secretName", &v.Ref)
					case "projected", "emptyDir", "hostPath", "csi", "ephemeral", "downwardAPI", "nfs":
						v.Kind = key
						sc.Skip()
					default:
						if v.Kind == "" {
							v.Kind = "other"
						}
						sc.Skip()
					}
					return nil
				})
				s.Volumes = append(s.Volumes, v)
				return err
			})
		case "nodeSelector":
			return sc.Object(func([]byte) error {
				s.NodeSelector++
				sc.Skip()
				return nil
			})
		case "affinity":
			s.HasAffinity = sc.Peek() != 'n'
			sc.Skip()
		case "tolerations":
			return sc.Array(func() error {
				s.Tolerations++
				sc.Skip()
				return nil
			})
		case "schedulingGates":
			return sc.Array(func() error {
				return refName(sc, "name", appendTo(&s.SchedulingGates))
			})
		case "readinessGates":
			return sc.Array(func() error {
				return refName(sc, "conditionType", appendTo(&s.ReadinessGates))
			})
		default:
			sc.Skip()
		}
		return nil
	})
}

// appendTo returns a slot at the end of *list for refName to fill.
func appendTo(list *[]string) *string {
	*list = append(*list, "")
	return &(*list)[len(*list)-1]
}

// refName reads an object and stores its string member named field.
func refName(sc *Scanner, field string, dst *string) error {
	return sc.Object(func(k []byte) error {
		if string(k) == field {
			*dst = sc.String()
		} else {
			sc.Skip()
		}
		return nil
	})
}

func containers(sc *Scanner, s *PodSpec, list *[]Container, regular bool) error {
	return sc.Array(func() error {
		var c Container
		err := sc.Object(func(k []byte) error {
			switch string(k) {
			case "name":
				c.Name = sc.String()
			case "image":
				c.Image = sc.String()
			case "imagePullPolicy":
				c.PullPolicy = sc.String()
			case "readinessProbe":
				c.Readiness = sc.Peek() != 'n'
				sc.Skip()
			case "startupProbe":
				c.Startup = sc.Peek() != 'n'
				sc.Skip()
			case "livenessProbe":
				c.Liveness = sc.Peek() != 'n'
				sc.Skip()
			case "restartPolicy":
				c.RestartAlways = string(sc.Bytes()) == "Always"
			case "lifecycle":
				return sc.Object(func(k []byte) error {
					if string(k) == "postStart" {
						c.PostStart = sc.Peek() != 'n'
					}
					sc.Skip()
					return nil
				})
			case "resources":
				if !regular {
					sc.Skip()
					return nil
				}
				return sc.Object(func(k []byte) error {
					if string(k) != "requests" {
						sc.Skip()
						return nil
					}
					return sc.Object(func(k []byte) error {
						q := parseQuantity(sc.Bytes())
						switch name := string(k); name {
						case "cpu":
							s.RequestsMilliCPU += q.milli
						case "memory":
							s.RequestsMemory += q.value
						case "ephemeral-storage", "pods", "storage":
						default:
							s.HasExtendedRes = true
							if len(name) > 4 && name[len(name)-4:] == "/gpu" {
								s.RequestsGPU += q.value
							}
						}
						return nil
					})
				})
			default:
				sc.Skip() // env (never decoded), command, ports, ...
			}
			return nil
		})
		*list = append(*list, c)
		return err
	})
}

func podStatus(sc *Scanner, st *PodStatus) error {
	return sc.Object(func(k []byte) error {
		switch string(k) {
		case "phase":
			st.Phase = sc.String()
		case "reason":
			st.Reason = sc.String()
		case "message":
			st.Message = sc.String()
		case "podIP":
			st.PodIP = sc.String()
		case "hostIP":
			st.HostIP = sc.String()
		case "nominatedNodeName":
			st.NominatedNode = sc.String()
		case "startTime":
			st.StartTime = sc.Time()
		case "conditions":
			return sc.Array(func() error {
				var c Condition
				err := sc.Object(func(k []byte) error {
					switch string(k) {
					case "type":
						c.Type = sc.String()
					case "status":
						c.Status = sc.String()
					case "reason":
						c.Reason = sc.String()
					case "message":
						c.Message = sc.String()
					case "lastTransitionTime":
						c.Transition = sc.Time()
					default:
						sc.Skip()
					}
					return nil
				})
				st.Conditions = append(st.Conditions, c)
				return err
			})
		case "containerStatuses":
			st.HasContainers = true
			return containerStatuses(sc, &st.Containers)
		case "initContainerStatuses":
			st.HasInitContainers = true
			return containerStatuses(sc, &st.InitContainers)
		default:
			sc.Skip()
		}
		return nil
	})
}

func containerStatuses(sc *Scanner, list *[]ContainerStatus) error {
	return sc.Array(func() error {
		var cs ContainerStatus
		err := sc.Object(func(k []byte) error {
			switch string(k) {
			case "name":
				cs.Name = sc.String()
			case "image":
				cs.Image = sc.String()
			case "ready":
				cs.Ready = sc.Bool()
			case "started":
				cs.Started = sc.Bool()
			case "restartCount":
				cs.Restarts = sc.Int()
			case "state":
				return containerState(sc, &cs.State)
			case "lastState":
				return containerState(sc, &cs.Last)
			default:
				sc.Skip()
			}
			return nil
		})
		*list = append(*list, cs)
		return err
	})
}

func containerState(sc *Scanner, st *ContainerState) error {
	return sc.Object(func(k []byte) error {
		kind := string(k)
		switch kind {
		case "waiting", "running", "terminated":
		default:
			sc.Skip()
			return nil
		}
		if sc.Peek() == 'n' {
			sc.Skip()
			return nil
		}
		st.Kind = kind
		return sc.Object(func(k []byte) error {
			switch string(k) {
			case "reason":
				st.Reason = sc.String()
			case "message":
				st.Message = sc.String()
			case "exitCode":
				st.ExitCode = sc.Int()
			case "startedAt":
				st.StartedAt = sc.Time()
			case "finishedAt":
				st.FinishedAt = sc.Time()
			default:
				sc.Skip()
			}
			return nil
		})
	})
}

type quantity struct{ value, milli int64 }

// parseQuantity reads a Kubernetes resource quantity ("500m", "1Gi", "2",
// "1e3") into whole units and thousandths. Unparseable input reads as zero.
func parseQuantity(b []byte) quantity {
	i := 0
	for i < len(b) && (b[i] >= '0' && b[i] <= '9' || b[i] == '.') {
		i++
	}
	num, suffix := b[:i], string(b[i:])
	var whole, frac, fracDiv int64 = 0, 0, 1
	seenDot := false
	for _, c := range num {
		if c == '.' {
			seenDot = true
			continue
		}
		if seenDot {
			if fracDiv < 1e9 {
				frac = frac*10 + int64(c-'0')
				fracDiv *= 10
			}
		} else {
			whole = whole*10 + int64(c-'0')
		}
	}
	mul := int64(1)
	milliOnly := false
	switch suffix {
	case "", "e0":
	case "m":
		milliOnly = true
	case "k", "e3":
		mul = 1e3
	case "M", "e6":
		mul = 1e6
	case "G", "e9":
		mul = 1e9
	case "T", "e12":
		mul = 1e12
	case "P":
		mul = 1e15
	case "Ki":
		mul = 1 << 10
	case "Mi":
		mul = 1 << 20
	case "Gi":
		mul = 1 << 30
	case "Ti":
		mul = 1 << 40
	case "Pi":
		mul = 1 << 50
	default:
		return quantity{}
	}
	if milliOnly {
		m := whole + frac/fracDiv
		return quantity{value: m / 1000, milli: m}
	}
	v := whole*mul + frac*mul/fracDiv
	return quantity{value: v, milli: v * 1000}
}
