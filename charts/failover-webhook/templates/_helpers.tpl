{{/* The chart name, overridable. */}}
{{- define "failover-webhook.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of every resource, and the Service's name, which the serving certificate must
carry. Truncated to 63 characters: a DNS label.
*/}}
{{- define "failover-webhook.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "failover-webhook.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "failover-webhook.labels" -}}
helm.sh/chart: {{ include "failover-webhook.chart" . }}
{{ include "failover-webhook.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "failover-webhook.selectorLabels" -}}
app.kubernetes.io/name: {{ include "failover-webhook.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "failover-webhook.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "failover-webhook.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The certificate mode: certManager, existingSecret or generated. Refuses contradictory values at
render time rather than installing a webhook the API server cannot trust.
*/}}
{{- define "failover-webhook.tlsMode" -}}
{{- if and .Values.certManager.enabled .Values.tls.existingSecret }}
{{- fail "certManager.enabled and tls.existingSecret are exclusive: choose one certificate source" }}
{{- end }}
{{- if .Values.certManager.enabled }}certManager
{{- else if .Values.tls.existingSecret }}
{{- if not .Values.tls.caBundle }}
{{- fail "tls.existingSecret needs tls.caBundle: the base64 PEM of the CA that signed it" }}
{{- end }}existingSecret
{{- else }}generated
{{- end }}
{{- end }}

{{/* The Secret the pods mount the serving certificate from. */}}
{{- define "failover-webhook.tlsSecretName" -}}
{{- if eq (include "failover-webhook.tlsMode" .) "existingSecret" }}
{{- .Values.tls.existingSecret }}
{{- else }}
{{- printf "%s-tls" (include "failover-webhook.fullname" .) }}
{{- end }}
{{- end }}

{{/*
The DNS names the API server may use for the Service: it dials `<service>.<namespace>.svc`; the
others serve in-cluster clients such as a port-forward or a curl from a debug pod.
*/}}
{{- define "failover-webhook.dnsNames" -}}
{{- $svc := include "failover-webhook.fullname" . }}
{{- $ns := .Release.Namespace }}
{{- list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns) | toJson }}
{{- end }}

{{/*
The chart-generated certificate as a dict {caCrt, tlsCrt, tlsKey} (PEM). Takes a dict with
`existing` (the Secret found by `lookup`, or an empty map) and `root` (the chart context).
An existing Secret holding all three keys is reused as it is, so an upgrade never changes the
CA behind the caBundle; only a first install (or a deleted Secret) generates a new pair.
*/}}
{{- define "failover-webhook.generatedTLS" -}}
{{- $data := dig "data" (dict) .existing }}
{{- if and (hasKey $data "ca.crt") (hasKey $data "tls.crt") (hasKey $data "tls.key") }}
{{- dict "caCrt" (index $data "ca.crt" | b64dec) "tlsCrt" (index $data "tls.crt" | b64dec) "tlsKey" (index $data "tls.key" | b64dec) "reused" true | toJson }}
{{- else }}
{{- $root := .root }}
{{- $days := int $root.Values.tls.validityDays }}
{{- $ca := genCA (printf "%s-ca" (include "failover-webhook.fullname" $root)) $days }}
{{- $names := include "failover-webhook.dnsNames" $root | fromJsonArray }}
{{- $cert := genSignedCert (index $names 2) nil $names $days $ca }}
{{- dict "caCrt" $ca.Cert "tlsCrt" $cert.Cert "tlsKey" $cert.Key "reused" false | toJson }}
{{- end }}
{{- end }}
