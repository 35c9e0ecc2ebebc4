{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "contract-lucidity.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: the release name, suffixed with the chart name unless it already contains it. */}}
{{- define "contract-lucidity.fullname" -}}
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

{{- define "contract-lucidity.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object of the chart. */}}
{{- define "contract-lucidity.labels" -}}
helm.sh/chart: {{ include "contract-lucidity.chart" . }}
{{ include "contract-lucidity.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: contract-lucidity
{{- end }}

{{/* Selector labels of the operator's pods. */}}
{{- define "contract-lucidity.selectorLabels" -}}
app.kubernetes.io/name: {{ include "contract-lucidity.name" . }}-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "contract-lucidity.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "contract-lucidity.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The operator image: repository@digest, or repository:tag (default appVersion). */}}
{{- define "contract-lucidity.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* crdServed: the ContractLucidity CRD is served (an upgrade, or a CRD installed before). */}}
{{- define "contract-lucidity.crdServed" -}}
{{- if .Capabilities.APIVersions.Has "contractlucidity.io/v1alpha1/ContractLucidity" }}true{{ end }}
{{- end }}

{{/*
instanceBootstrap: the instance is handed to this release's operator (a
ConfigMap and --create-instance-from) because Helm cannot create it on a
first install, its CRD being created by the same release.
*/}}
{{- define "contract-lucidity.instanceBootstrap" -}}
{{- if and .Values.instance.enabled .Values.operator.enabled .Values.crds.enabled (not (include "contract-lucidity.crdServed" .)) }}true{{ end }}
{{- end }}

{{/*
The instance. Helm's ownership metadata is part of it also when the
operator creates it, so the next `helm upgrade` adopts it; Helm never
deletes it (keep): `helm uninstall` leaves the instance and its data.
*/}}
{{- define "contract-lucidity.instance" -}}
apiVersion: contractlucidity.io/v1alpha1
kind: ContractLucidity
metadata:
  name: {{ .Values.instance.name }}
  namespace: {{ .Release.Namespace }}
  labels:
    helm.sh/chart: {{ include "contract-lucidity.chart" . }}
    app.kubernetes.io/managed-by: {{ .Release.Service }}
    app.kubernetes.io/part-of: contract-lucidity
  annotations:
    meta.helm.sh/release-name: {{ .Release.Name }}
    meta.helm.sh/release-namespace: {{ .Release.Namespace }}
    helm.sh/resource-policy: keep
spec:
  {{- toYaml .Values.instance.spec | nindent 2 }}
{{- end }}
