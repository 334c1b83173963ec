{{- define "kvindex.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "kvindex.controllerName" -}}
{{- printf "%s-controller" (include "kvindex.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kvindex.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/part-of: kvindex
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{ include "kvindex.selectorLabels" . }}
{{- end -}}

{{- define "kvindex.selectorLabels" -}}
app.kubernetes.io/name: kvindex-controller
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kvindex.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kvindex.controllerName" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "kvindex.controllerImage" -}}
{{- printf "%s:%s" .Values.controller.image.repository (default .Chart.AppVersion .Values.controller.image.tag) -}}
{{- end -}}

{{- define "kvindex.dataPlaneImage" -}}
{{- printf "%s:%s" .Values.dataPlane.image.repository (default .Chart.AppVersion .Values.dataPlane.image.tag) -}}
{{- end -}}
