{{- define "kube-rollouts.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "kube-rollouts.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "kube-rollouts.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kube-rollouts.serviceAccountName" -}}
{{- default (include "kube-rollouts.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- /* The webhook's objects: its own name, and the configuration kopf fills (domain-like, as the API
server wants for the webhook names kopf derives from it: validate-rollouts.<this>). */ -}}
{{- define "kube-rollouts.webhookName" -}}
{{- printf "%s-webhook" (include "kube-rollouts.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kube-rollouts.webhookConfiguration" -}}
{{- printf "%s.%s.rollouts.dev" (include "kube-rollouts.fullname" .) .Release.Namespace -}}
{{- end -}}

{{- define "kube-rollouts.webhookSelectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}-webhook
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
