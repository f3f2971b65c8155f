{{/* The chart name, or nameOverride. */}}
{{- define "ladder.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the release's objects: fullnameOverride, else the release name when it
already contains the chart name, else <release>-<chart>. 63 characters at most (DNS).
*/}}
{{- define "ladder.fullname" -}}
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

{{- define "ladder.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ladder.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ladder.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "ladder.labels" -}}
helm.sh/chart: {{ include "ladder.chart" . }}
{{ include "ladder.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ladder
{{- end }}

{{- define "ladder.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ladder.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ladder.leaseName" -}}
{{- default (include "ladder.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{- define "ladder.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
Secrets are files, never config values: refuse a config that writes one inline, at the
top level, in a tenant or in a tenant's forge.
*/}}
{{- define "ladder.refuseInlineSecrets" -}}
{{- $inline := list "token" "appKey" "password" "webhookSecret" "privateKey" }}
{{- $places := list (dict "where" "config" "map" .Values.config) }}
{{- range $i, $tenant := (.Values.config.tenants | default list) }}
{{- $places = append $places (dict "where" (printf "config.tenants[%d]" $i) "map" $tenant) }}
{{- if kindIs "map" $tenant.forge }}
{{- $places = append $places (dict "where" (printf "config.tenants[%d].forge" $i) "map" $tenant.forge) }}
{{- end }}
{{- end }}
{{- range $places }}
{{- $place := . }}
{{- range $inline }}
{{- if and (kindIs "map" $place.map) (hasKey $place.map .) }}
{{- fail (printf "%s.%s: secrets are never written in the config; mount an existing Secret with `secrets` and name the file with %sFile" $place.where . .) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The daemon config: .Values.config as it is. The daemon refuses unknown keys, so the
chart adds none; leader election is configured through the environment instead.
*/}}
{{- define "ladder.config" -}}
{{- include "ladder.refuseInlineSecrets" . }}
{{- toYaml .Values.config }}
{{- end }}
