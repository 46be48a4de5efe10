{{/* The release's object name: <release>-podtrace, or the release name if it says podtrace. */}}
{{- define "podtrace.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "podtrace.selectorLabels" -}}
app.kubernetes.io/name: {{ default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "podtrace.labels" -}}
{{ include "podtrace.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "podtrace.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "podtrace.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
podtrace serve's configuration file: .Values.config plus the keys the chart
owns, which follow from the other values (ports, volumes, Secrets).
*/}}
{{- define "podtrace.config" -}}
{{- $own := dict "http_addr" ":8080" "otlp_grpc_addr" ":4317" "otlp_http_addr" ":4318" "db" "/var/lib/podtrace/podtrace.db" -}}
{{- if .Values.ingestToken.secretName -}}
{{- $_ := set $own "ingest_token_file" "/var/run/secrets/podtrace/ingest/token" -}}
{{- end -}}
{{- if .Values.apiToken.secretName -}}
{{- $_ := set $own "api_token_file" "/var/run/secrets/podtrace/api/token" -}}
{{- end -}}
{{- if .Values.tls.enabled -}}
{{- $_ := set $own "tls_cert" "/var/run/secrets/podtrace/tls/tls.crt" -}}
{{- $_ := set $own "tls_key" "/var/run/secrets/podtrace/tls/tls.key" -}}
{{- end -}}
{{- range $key := list "http_addr" "otlp_grpc_addr" "otlp_http_addr" "db" "postgres_dsn" "ingest_token_file" "api_token_file" "tls_cert" "tls_key" -}}
{{- if hasKey $.Values.config $key -}}
{{- fail (printf "config.%s: set by the chart from its other values (see values.yaml); remove it from config" $key) -}}
{{- end -}}
{{- end -}}
{{- toYaml (merge $own .Values.config) -}}
{{- end -}}
