"""The Helm chart (deploy/helm/iocmon), rendered by the real helm and checked offline.

helm comes from `deploy/local/stack.sh install` (built by `go install` into
`.cache/bin/helm`; `make test` runs the install first). Every object the chart renders, with
the default values and with values-production.yaml, is validated against the Kubernetes
schemas of the oldest and the newest version it supports (kubernetes-validate, strict: an
unknown field fails); the prometheus-operator's objects, whose schemas are CRDs, are checked
by shape. The chart's PrometheusRules are the rule files of deploy/prometheus, each parsed
equal to its file.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from iocmon.config import Settings
from iocmon.redis_connection import redis_target
from tests.unit.settings_names import known_settings

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "iocmon"
RULES = REPO / "deploy" / "prometheus"
PRODUCTION = CHART / "values-production.yaml"
KUBE_VERSIONS = ("1.29", "1.37")  # Chart.yaml's kubeVersion, and the newest schemas known
JOBS = {"worker": "iocmon", "notifier": "iocmon-notify"}  # what the rules query


def helm_path() -> Path:
    cache_dir = Path(os.environ.get("IOCMON_CACHE_DIR") or REPO / ".cache")
    return cache_dir / "bin" / "helm"


@pytest.fixture(scope="module")
def helm() -> Path:
    path = helm_path()
    if not os.access(path, os.X_OK):
        pytest.skip(f"helm is not installed at {path}: run deploy/local/stack.sh install")
    return path


def run_helm(helm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(helm), *args], capture_output=True, text=True, timeout=60, check=False
    )


def template(helm: Path, *args: str) -> list[dict[str, Any]]:
    done = run_helm(helm, "template", "iocmon", str(CHART), "--namespace", "iocmon", *args)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def template_error(helm: Path, *args: str) -> str:
    done = run_helm(helm, "template", "iocmon", str(CHART), *args)
    assert done.returncode != 0, "helm template should have failed"
    return done.stderr


@pytest.fixture(scope="module", params=["default", "production"])
def rendered(request: pytest.FixtureRequest, helm: Path) -> list[dict[str, Any]]:
    args = ["-f", str(PRODUCTION)] if request.param == "production" else []
    return template(helm, *args)


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def named(objects: list[dict[str, Any]], kind: str, component: str) -> dict[str, Any]:
    (found,) = [
        o
        for o in of_kind(objects, kind)
        if o["metadata"]["labels"].get("app.kubernetes.io/component") == component
    ]
    return found


def pod_specs(objects: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every pod the chart describes: the Deployments', the rebuild CronJob's."""
    for obj in objects:
        if obj["kind"] == "Deployment":
            yield obj["metadata"]["name"], obj["spec"]["template"]["spec"]
        elif obj["kind"] == "CronJob":
            yield obj["metadata"]["name"], obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def containers(objects: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, pod in pod_specs(objects):
        for container in pod["containers"]:
            yield name, container


# ---------------------------------------------------------------------------------------------
# helm lint, schemas


@pytest.mark.parametrize("values", ["default", "production"])
def test_helm_lint_is_clean(helm: Path, values: str) -> None:
    args = ["-f", str(PRODUCTION)] if values == "production" else []
    done = run_helm(helm, "lint", "--strict", str(CHART), *args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 chart(s) failed" in done.stdout


@cache
def crd_shapes() -> dict[str, dict[str, Any]]:
    """What the chart uses of the prometheus-operator's CRDs (monitoring.coreos.com/v1), as
    JSON schemas: the fields, their types, no others. Not the CRDs themselves (not shipped
    offline), so a field the operator does not know but that is spelled like one of these
    passes; a misspelt or misplaced one fails."""

    def obj(required: list[str], **props: Any) -> dict[str, Any]:
        return {
            "type": "object",
            "required": required,
            "properties": props,
            "additionalProperties": False,
        }

    string = {"type": "string"}
    labels = {"type": "object", "additionalProperties": string}
    metadata = obj(["name"], name=string, labels=labels, annotations=labels)
    duration = {"type": "string", "pattern": r"^(([0-9]+)(ms|s|m|h|d|w|y))+$"}
    relabel = obj(
        ["action", "targetLabel", "replacement"],
        action={"enum": ["replace"]},
        targetLabel=string,
        replacement=string,
    )
    endpoint = obj(
        ["port", "path"],
        port=string,
        path=string,
        interval=duration,
        scrapeTimeout=duration,
        relabelings={"type": "array", "items": relabel},
    )
    pod_monitor = obj(
        ["apiVersion", "kind", "metadata", "spec"],
        apiVersion={"const": "monitoring.coreos.com/v1"},
        kind={"const": "PodMonitor"},
        metadata=metadata,
        spec=obj(
            ["selector", "podMetricsEndpoints"],
            selector=obj(["matchLabels"], matchLabels=labels),
            podMetricsEndpoints={"type": "array", "minItems": 1, "items": endpoint},
        ),
    )
    rule = {
        "type": "object",
        "required": ["expr"],
        "oneOf": [{"required": ["record"]}, {"required": ["alert"]}],
        "properties": {
            "record": string,
            "alert": string,
            "expr": {"type": ["string", "number"]},
            "for": duration,
            "keep_firing_for": duration,
            "labels": labels,
            "annotations": labels,
        },
        "additionalProperties": False,
    }
    group = obj(
        ["name", "rules"],
        name=string,
        interval=duration,
        limit={"type": "integer"},
        rules={"type": "array", "items": rule},
    )
    prometheus_rule = obj(
        ["apiVersion", "kind", "metadata", "spec"],
        apiVersion={"const": "monitoring.coreos.com/v1"},
        kind={"const": "PrometheusRule"},
        metadata=metadata,
        spec=obj(["groups"], groups={"type": "array", "minItems": 1, "items": group}),
    )
    return {"PodMonitor": pod_monitor, "PrometheusRule": prometheus_rule}


def test_every_object_is_valid_for_kubernetes(rendered: list[dict[str, Any]]) -> None:
    import jsonschema
    import kubernetes_validate

    crds = crd_shapes()
    kinds = set()
    for obj in rendered:
        kinds.add(obj["kind"])
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        if obj["kind"] in crds:
            errors = list(jsonschema.Draft202012Validator(crds[obj["kind"]]).iter_errors(obj))
            assert not errors, f"{where}: {[e.message for e in errors]}"
            continue
        for version in KUBE_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                path = ".".join(str(p) for p in e.path)
                pytest.fail(f"{where} is not valid for Kubernetes {version}: {path}: {e.message}")
    assert {"Deployment", "Service", "ConfigMap", "PodDisruptionBudget"} <= kinds
    assert {"PodMonitor", "PrometheusRule"} <= kinds


def test_the_crd_shapes_catch_a_misspelt_field() -> None:
    import jsonschema

    monitor = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {"name": "x"},
        "spec": {"selector": {"matchLabels": {}}, "podMetricsEndpoints": [{"port": "http"}]},
    }
    assert list(jsonschema.Draft202012Validator(crd_shapes()["PodMonitor"]).iter_errors(monitor))
    monitor["spec"]["podMetricsEndpoints"] = [{"port": "http", "path": "/metrics", "intervl": "1m"}]
    assert list(jsonschema.Draft202012Validator(crd_shapes()["PodMonitor"]).iter_errors(monitor))


# ---------------------------------------------------------------------------------------------
# The rules: one source


def rule_files() -> dict[str, Any]:
    return {p.name: yaml.safe_load(p.read_text()) for p in sorted(RULES.glob("*.rules.yml"))}


def test_the_prometheus_rules_are_deploy_prometheus_files(rendered: list[dict[str, Any]]) -> None:
    files = rule_files()
    assert files, f"no *.rules.yml in {RULES}"
    in_chart = {
        o["metadata"]["annotations"]["iocmon/source"].removeprefix("deploy/prometheus/"): o["spec"]
        for o in of_kind(rendered, "PrometheusRule")
    }
    assert sorted(in_chart) == sorted(files)
    for name, content in files.items():
        assert in_chart[name] == content, f"the chart's rules differ from deploy/prometheus/{name}"


def test_the_chart_reads_the_rules_through_a_link_to_deploy_prometheus() -> None:
    link = CHART / "rules"
    assert link.is_symlink(), "deploy/helm/iocmon/rules must link to ../../prometheus (one copy)"
    assert link.resolve() == RULES.resolve()


def test_the_pod_monitors_give_the_jobs_the_rules_query(rendered: list[dict[str, Any]]) -> None:
    queried = set()
    for path in RULES.glob("*.rules.yml"):
        queried |= set(re.findall(r'job="([^"]+)"', path.read_text()))
    assert queried <= set(JOBS.values()), queried
    for component, job in JOBS.items():
        monitor = named(rendered, "PodMonitor", component)
        (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
        assert {"action": "replace", "targetLabel": "job", "replacement": job} in endpoint[
            "relabelings"
        ]
        deployment = named(rendered, "Deployment", component)
        pod = deployment["spec"]["template"]
        selector = monitor["spec"]["selector"]["matchLabels"]
        assert selector.items() <= pod["metadata"]["labels"].items()
        ports = {p["name"] for c in pod["spec"]["containers"] for p in c["ports"]}
        assert endpoint["port"] in ports and endpoint["path"] == "/metrics"


# ---------------------------------------------------------------------------------------------
# Workers and partitions


def test_more_workers_than_partitions_fail_with_a_clear_message(helm: Path) -> None:
    error = template_error(helm, "--set", "worker.replicas=13")
    assert "worker.replicas=13 is more than topics.eventPartitions=12" in error
    assert "Lower worker.replicas to at most 12" in error
    error = template_error(helm, "--set", "worker.replicas=5", "--set", "topics.eventPartitions=4")
    assert "worker.replicas=5 is more than topics.eventPartitions=4" in error


def test_as_many_workers_as_partitions_never_surge_past_them(helm: Path) -> None:
    deployment = named(template(helm, "--set", "worker.replicas=12"), "Deployment", "worker")
    assert deployment["spec"]["replicas"] == 12
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}
    deployment = named(template(helm, "--set", "worker.replicas=3"), "Deployment", "worker")
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}


def test_the_worker_partitions_setting_is_the_values(rendered: list[dict[str, Any]]) -> None:
    (config,) = of_kind(rendered, "ConfigMap")
    deployment = named(rendered, "Deployment", "worker")
    assert int(config["data"]["IOCMON_EVENT_PARTITIONS"]) >= deployment["spec"]["replicas"]


# ---------------------------------------------------------------------------------------------
# Pods: probes, security, settings


def test_probes_ask_healthz_and_readyz_on_each_containers_port(
    rendered: list[dict[str, Any]],
) -> None:
    for deployment in of_kind(rendered, "Deployment"):
        name = deployment["metadata"]["name"]
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        for probe, path in [
            ("startupProbe", "/healthz"),
            ("livenessProbe", "/healthz"),
            ("readinessProbe", "/readyz"),
        ]:
            get = container[probe]["httpGet"]
            assert get["path"] == path, (name, probe)
            assert get["port"] in ports, (name, probe)
    worker = named(rendered, "Deployment", "worker")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in worker["env"]}
    assert int(env["IOCMON_WEB_PORT"]) == worker["ports"][0]["containerPort"] == 6066
    notifier = named(rendered, "Deployment", "notifier")["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in notifier["containers"][0]["env"]}
    assert int(env["IOCMON_NOTIFY_PORT"]) == notifier["containers"][0]["ports"][0]["containerPort"]


def test_every_container_runs_unprivileged(rendered: list[dict[str, Any]]) -> None:
    assert len(list(pod_specs(rendered))) == 3  # worker, notifier, rebuild
    for _, pod in pod_specs(rendered):
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False
            assert security["readOnlyRootFilesystem"] is True
            assert security["capabilities"]["drop"] == ["ALL"]
            assert "/tmp" in {m["mountPath"] for m in container["volumeMounts"]}
            assert container["resources"]["requests"] and container["resources"]["limits"]


def test_the_stop_grace_outlasts_the_workers_own_stop_deadline(
    rendered: list[dict[str, Any]],
) -> None:
    try:
        from iocmon.streams.stop_deadline import STOP_GRACE_S
    except ImportError:  # before the packages moved under iocmon (issue #15 item 1)
        from iocmon.streams.stop_deadline import STOP_GRACE_S

    for deployment in of_kind(rendered, "Deployment"):
        # the worker cuts its stop short at 8 s and is gone within 10 s (README)
        assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > max(
            STOP_GRACE_S, 10
        )


def test_selectors_find_their_pods(rendered: list[dict[str, Any]]) -> None:
    for kind in ("Service", "PodDisruptionBudget"):
        for obj in of_kind(rendered, kind):
            component = obj["metadata"]["labels"]["app.kubernetes.io/component"]
            pod_labels = named(rendered, "Deployment", component)["spec"]["template"]["metadata"][
                "labels"
            ]
            selector = obj["spec"]["selector"]
            selector = selector.get("matchLabels", selector)
            assert selector.items() <= pod_labels.items(), (kind, obj["metadata"]["name"])


def container_env(
    rendered: list[dict[str, Any]], component: str, secrets: dict[str, str]
) -> dict[str, str]:
    """The environment the kubelet would give the container: the ConfigMap, then `env` in
    order, with secretKeyRefs from `secrets` and $(VAR) expanded from what came before."""
    (config,) = of_kind(rendered, "ConfigMap")
    (container,) = [c for name, c in containers(rendered) if name.endswith(f"-{component}")]
    env = dict(config["data"])
    for item in container["env"]:
        if "value" in item:
            env[item["name"]] = re.sub(
                r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                lambda m: env.get(m.group(1), m.group(0)),
                item["value"],
            )
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            if ref["key"] in secrets:
                env[item["name"]] = secrets[ref["key"]]
            else:
                assert ref.get("optional"), f"{component}: the Secret lacks {ref['key']}"
    return env


CHART_OWN = {"IOCMON_REDIS_PASSWORD"}  # only for $(...) in REDIS_URL


def test_the_settings_are_names_iocmon_reads_and_it_accepts_them(
    rendered: list[dict[str, Any]],
) -> None:
    secrets = {
        "api-token": "t0ken",
        "kafka-sasl-password": "kafka-secret",
        "redis-password": "redis%2Fsecret",
    }
    worker = container_env(rendered, "worker", secrets)
    known = known_settings() | CHART_OWN
    assert set(worker) <= known, sorted(set(worker) - known)
    settings = Settings.from_env(worker)
    assert settings.web_host == "0.0.0.0" and settings.api_token == "t0ken"
    assert settings.event_partitions == int(worker["IOCMON_EVENT_PARTITIONS"])
    url = redis_target(Settings.from_env({**worker, "REDIS_SSL_CA_FILE": ""})).url
    if "IOCMON_REDIS_PASSWORD" in worker:  # production: the ACL user and its password
        assert url == "rediss://iocmon:redis%2Fsecret@redis-cluster.data.svc:6379"
        assert settings.kafka_sasl_password.value == "kafka-secret"
        assert settings.kafka_security_protocol == "SASL_SSL"
        assert settings.topic_replication_factor == 3
    notifier = container_env(rendered, "notifier", secrets)
    assert "REDIS_URL" not in notifier and "IOCMON_API_TOKEN" not in notifier
    assert set(notifier) <= known, sorted(set(notifier) - known)
    Settings.from_env(notifier)
    rebuild = container_env(rendered, "rebuild", secrets)
    assert "IOCMON_API_TOKEN" not in rebuild
    assert redis_target(Settings.from_env({**rebuild, "REDIS_SSL_CA_FILE": ""})).url == url


def test_without_a_token_the_chart_makes_one(helm: Path) -> None:
    import base64

    (secret,) = of_kind(template(helm), "Secret")
    assert len(base64.b64decode(secret["data"]["api-token"])) >= 32
    (secret,) = of_kind(template(helm, "--set", "secrets.apiToken=given"), "Secret")
    assert base64.b64decode(secret["data"]["api-token"]) == b"given"


def test_an_existing_secret_replaces_the_charts(helm: Path) -> None:
    objects = template(helm, "--set", "secrets.existingSecret=mine")
    assert not of_kind(objects, "Secret")
    refs = {
        e["valueFrom"]["secretKeyRef"]["name"]
        for _, c in containers(objects)
        for e in c["env"]
        if "valueFrom" in e
    }
    assert refs == {"mine"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "kafka.securityProtocol=SASL_SSL"], "needs kafka.sasl.username"),
        (["--set", "redis.url=rediss://u:p@redis:6379/0"], "redis.url holds a login"),
        (["--set", "redis.username=iocmon"], "redis.username is set but no password"),
        (["--set", "config.REDIS_URL=redis://x:6379/0"], "config.REDIS_URL: set by the chart"),
        (["--set", "redis.caSecret.name=ca"], "redis.caSecret is set but redis.url is redis://"),
        (["--set", "worker.replica=3"], "additional properties 'replica' not allowed"),
        (["--set", "kafka.securityProtocol=SASL"], "value must be one of 'PLAINTEXT'"),
    ],
)
def test_contradictory_values_fail_saying_what_to_change(
    helm: Path, args: list[str], message: str
) -> None:
    assert message in template_error(helm, *args)
