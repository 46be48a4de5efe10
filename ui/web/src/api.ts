// Types and calls of podtrace's REST API (see /openapi.json) and of its
// Jaeger-compatible trace endpoint.

export type Owner = 'platform' | 'user';

export interface Phase { name: string; start: string; end: string; owner: Owner }
export interface Milestone { name: string; time: string; audit_id: string }
export interface Evidence { audit_id: string; time: string; text: string }
export interface Finding { code: string; phase: string; owner: Owner; message: string; evidence: Evidence[]; remedy: string }
export interface SLO { target_seconds: number; total_seconds: number; platform_seconds: number; user_seconds: number; met: boolean | null; rule: string }
export interface Span { service: string; name: string; start: string; end: string; status: string; trace_id: string; span_id: string; parent_span_id?: string }

export interface DeliveryRecord {
  cluster: string; namespace: string; name: string; uid: string;
  kind: string; seq: number; outcome: string;
  created: string; finished: string | null;
  node?: string; owner_kind?: string; owner_name?: string;
  phases: Phase[]; milestones: Milestone[];
  slo: SLO | null; diagnosis: Finding[]; trace_id: string | null; spans?: Span[];
}

export interface PodSummary {
  cluster: string; namespace: string; name: string; uid: string;
  kind: string; seq: number; outcome: string; created: string; finished: string | null;
  duration_seconds: number; platform_seconds: number; user_seconds: number;
  node?: string; owner_kind?: string; owner_name?: string;
  slo_met: boolean | null; codes: string[]; trace_id: string;
}

export interface Page { items: PodSummary[]; next: string | null }

export interface AuditEvidence { audit_id: string; stage: string; time: string; verb: string; user: string; resource: string; code: number; summary: string }
export interface Pod { cluster: string; namespace: string; name: string; uid: string; deliveries: DeliveryRecord[]; evidence: AuditEvidence[] }

export interface Percentiles { p50: number | null; p90: number | null; p99: number | null }
export interface Window { since: string | null; until: string | null; step?: string; scanned: number; truncated: boolean }
export interface SLOBucket { start: string; deliveries: number; judged: number; met: number; met_ratio: number | null; total: Percentiles }
export interface SLOGroup {
  key: string; deliveries: number; finished: number; judged: number; met: number; met_ratio: number | null;
  total: Percentiles; platform: Percentiles; user: Percentiles; series?: SLOBucket[];
}
export interface SLOSummary { window: Window; group_by: string; overall: SLOGroup; groups: SLOGroup[]; worst: PodSummary[] }

export interface CountBucket { start: string; count: number }
export interface CodeSummary { code: string; phase: string; owner: Owner; count: number; examples: PodSummary[]; series?: CountBucket[] }
export interface Count { key: string; count: number }
export interface DiagnosesSummary { window: Window; diagnosed: number; codes: CodeSummary[]; phases: Count[]; owners: Count[] }

export interface JaegerKV { key: string; type: string; value: unknown }
export interface JaegerSpan {
  traceID: string; spanID: string; operationName: string;
  references: { refType: string; traceID: string; spanID: string }[];
  startTime: number; duration: number; tags: JaegerKV[];
  logs: { timestamp: number; fields: JaegerKV[] }[]; processID: string;
}
export interface JaegerTrace { traceID: string; spans: JaegerSpan[]; processes: Record<string, { serviceName: string; tags: JaegerKV[] }> }

export class APIError extends Error {
  constructor(public status: number, public code: string, message: string) { super(message); }
}

export async function get<T>(path: string, params?: Record<string, string | undefined>, signal?: AbortSignal): Promise<T> {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params ?? {})) if (v !== undefined && v !== '') q.set(k, v);
  const url = q.size ? `${path}?${q}` : path;
  const res = await fetch(url, { signal, headers: { Accept: 'application/json' } });
  let body: any = null;
  try { body = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) {
    const e = body?.error ?? { code: String(res.status), message: body?.errors?.[0]?.msg ?? res.statusText };
    throw new APIError(res.status, e.code, e.message);
  }
  return body as T;
}
