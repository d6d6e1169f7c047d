"""`iocmon notify`: delivers the per-dossier alerts of the alerts topic to on-call staff.

It reads the records the worker emits to `dossier-alerts` (due soon, overdue, cleared) and
hands each to every receiver: Alertmanager's v2 API, where the alert stays firing until the
dossier's `cleared` record resolves it, and optionally a generic JSON webhook that gets every
record once per delivery with an `Idempotency-Key`. A record's offset is committed only when
every receiver has acknowledged it, so a receiver outage delays alerts and loses none.

Modules, in the order a record goes through them: `consume` (Kafka), `model` (decoding),
`book` (which alert is active per dossier), `lanes` (one delivery queue per receiver, with
`retry`), `alertmanager` and `webhook` (the receivers, over `transport`), `progress` (what
may be committed); `service` runs the loop, `config` takes its part of the one Settings,
`metrics` are served on /metrics, `cli` is the command. How recovery works: `service`.
"""
