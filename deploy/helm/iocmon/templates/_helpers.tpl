{{/* Names and labels. */}}
{{- define "iocmon.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "iocmon.fullname" -}}
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

{{- define "iocmon.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "iocmon.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: iocmon
{{- end }}

{{/* Selector labels of one component: include "iocmon.selector" (list . "worker") */}}
{{- define "iocmon.selector" -}}
{{- $ := index . 0 -}}
app.kubernetes.io/name: {{ include "iocmon.name" $ }}
app.kubernetes.io/instance: {{ $.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "iocmon.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "iocmon.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "iocmon.secretName" -}}
{{- default (include "iocmon.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{- define "iocmon.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "iocmon.sasl" -}}
{{- if hasPrefix "SASL_" .Values.kafka.securityProtocol }}true{{ end }}
{{- end }}

{{/*
Checks that fail `helm template` / `helm install` with a message saying what to change.
*/}}
{{- define "iocmon.checks" -}}
{{- $partitions := int .Values.topics.eventPartitions }}
{{- if lt $partitions 1 }}
{{- fail (printf "topics.eventPartitions=%v: give the partition count of the events topic %s (IOCMON_EVENT_PARTITIONS, 12 by default)" .Values.topics.eventPartitions .Values.topics.events) }}
{{- end }}
{{- if gt (int .Values.worker.replicas) $partitions }}
{{- fail (printf "worker.replicas=%v is more than topics.eventPartitions=%v: Kafka gives each partition of %s to one worker of the group, so the workers beyond %v would sit idle. Lower worker.replicas to at most %v (it is set in values.yaml, worker.replicas), or move to a topic with more partitions (README, \"Changing the partition count\")" .Values.worker.replicas $partitions .Values.topics.events $partitions $partitions) }}
{{- end }}
{{- if and .Values.notifier.enabled (gt (int .Values.notifier.replicas) (int .Values.topics.alertPartitions)) }}
{{- fail (printf "notifier.replicas=%v is more than topics.alertPartitions=%v: the notifiers beyond the alerts topic's partitions would sit idle; lower notifier.replicas" .Values.notifier.replicas .Values.topics.alertPartitions) }}
{{- end }}
{{- if eq (int .Values.worker.webPort) (int .Values.notifier.port) }}
{{- fail (printf "worker.webPort and notifier.port are both %v; give them different ports" .Values.worker.webPort) }}
{{- end }}
{{- if and (include "iocmon.sasl" .) (not .Values.kafka.sasl.username) }}
{{- fail (printf "kafka.securityProtocol=%s needs kafka.sasl.username (and the Secret's key kafka-sasl-password)" .Values.kafka.securityProtocol) }}
{{- end }}
{{- if and (not (include "iocmon.sasl" .)) .Values.kafka.sasl.username }}
{{- fail (printf "kafka.sasl.username is set but kafka.securityProtocol=%s uses no SASL login; use SASL_SSL, or empty the username" .Values.kafka.securityProtocol) }}
{{- end }}
{{- $u := urlParse .Values.redis.url }}
{{- if $u.userinfo }}
{{- fail "redis.url holds a login: give it without one, the user in redis.username and the password in the Secret's key redis-password" }}
{{- end }}
{{- if and .Values.redis.caSecret.name (not (hasPrefix "rediss" $u.scheme)) }}
{{- fail (printf "redis.caSecret is set but redis.url is %s://…: use rediss:// or rediss+cluster:// (TLS), or empty redis.caSecret.name" $u.scheme) }}
{{- end }}
{{- if and .Values.redis.username (not .Values.secrets.existingSecret) (not .Values.secrets.redisPassword) }}
{{- fail "redis.username is set but no password: set secrets.redisPassword, or secrets.existingSecret with the key redis-password" }}
{{- end }}
{{- if and (include "iocmon.sasl" .) (not .Values.secrets.existingSecret) (not .Values.secrets.kafkaSaslPassword) }}
{{- fail "kafka.securityProtocol uses SASL but no password: set secrets.kafkaSaslPassword, or secrets.existingSecret with the key kafka-sasl-password" }}
{{- end }}
{{- end }}

{{/* REDIS_URL: the URL, with the ACL user and $(IOCMON_REDIS_PASSWORD) (expanded by the
kubelet from the env var defined before it) when redis.username is set. */}}
{{- define "iocmon.redisUrl" -}}
{{- if .Values.redis.username }}
{{- $u := urlParse .Values.redis.url }}
{{- printf "%s://%s:$(IOCMON_REDIS_PASSWORD)@%s%s" $u.scheme .Values.redis.username $u.host $u.path }}
{{- else }}
{{- .Values.redis.url }}
{{- end }}
{{- end }}

{{/* Environment of both containers besides the ConfigMap: the bind address and Kafka's password. */}}
{{- define "iocmon.env" -}}
- name: IOCMON_WEB_HOST
  value: "0.0.0.0"
{{- if include "iocmon.sasl" . }}
- name: KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "iocmon.secretName" . }}
      key: kafka-sasl-password
{{- end }}
{{- end }}

{{/* The worker's Redis: the ACL user's password first, so that REDIS_URL can name it. */}}
{{- define "iocmon.redisEnv" -}}
{{- if .Values.redis.username }}
- name: IOCMON_REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "iocmon.secretName" . }}
      key: redis-password
{{- end }}
- name: REDIS_URL
  value: {{ include "iocmon.redisUrl" . | quote }}
{{- end }}

{{/* Volumes and mounts: /tmp, the CA files, the operator's files. */}}
{{- define "iocmon.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- if .Values.kafka.caSecret.name }}
- name: kafka-ca
  secret:
    secretName: {{ .Values.kafka.caSecret.name }}
    items:
      - key: {{ .Values.kafka.caSecret.key }}
        path: ca.crt
{{- end }}
{{- if .Values.redis.caSecret.name }}
- name: redis-ca
  secret:
    secretName: {{ .Values.redis.caSecret.name }}
    items:
      - key: {{ .Values.redis.caSecret.key }}
        path: ca.crt
{{- end }}
{{- if .Values.files.configMap }}
- name: files
  configMap:
    name: {{ .Values.files.configMap }}
{{- end }}
{{- end }}

{{- define "iocmon.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if .Values.kafka.caSecret.name }}
- name: kafka-ca
  mountPath: /etc/iocmon/kafka-ca
  readOnly: true
{{- end }}
{{- if .Values.redis.caSecret.name }}
- name: redis-ca
  mountPath: /etc/iocmon/redis-ca
  readOnly: true
{{- end }}
{{- if .Values.files.configMap }}
- name: files
  mountPath: /etc/iocmon/files
  readOnly: true
{{- end }}
{{- end }}

{{/* The probes of a container on its named port: include "iocmon.probes" (dict "port" "http" "probes" .Values.worker.probes) */}}
{{- define "iocmon.probes" -}}
startupProbe:
  httpGet:
    path: /healthz
    port: {{ .port }}
  periodSeconds: {{ .probes.startup.periodSeconds }}
  failureThreshold: {{ .probes.startup.failureThreshold }}
livenessProbe:
  httpGet:
    path: /healthz
    port: {{ .port }}
  periodSeconds: {{ .probes.liveness.periodSeconds }}
  timeoutSeconds: {{ .probes.liveness.timeoutSeconds }}
  failureThreshold: {{ .probes.liveness.failureThreshold }}
readinessProbe:
  httpGet:
    path: /readyz
    port: {{ .port }}
  periodSeconds: {{ .probes.readiness.periodSeconds }}
  timeoutSeconds: {{ .probes.readiness.timeoutSeconds }}
  failureThreshold: {{ .probes.readiness.failureThreshold }}
{{- end }}
