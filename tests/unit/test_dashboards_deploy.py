"""Grafana provisioning and the Docker Compose file: they parse, agree with the dashboards,
and every file they mount exists. (No Docker here: `docker compose config` is the next
check, on a machine that has it.)"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from dashboards import common, infinity

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"


def load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path
    return data


def test_datasources_have_the_uids_the_dashboards_default_to() -> None:
    config = load(DEPLOY / "grafana/provisioning/datasources/iocmon.yaml")
    by_type = {d["type"]: d for d in config["datasources"]}
    assert by_type["prometheus"]["uid"] == common.PROMETHEUS_UID
    assert by_type["prometheus"]["url"] == "http://prometheus:9090"
    api = by_type[infinity.PLUGIN_ID]
    assert api["uid"] == common.API_UID
    assert api["url"] == "http://worker:6066"  # the compose service; panels give /api/v1/ paths
    # A worker listening beyond loopback requires its bearer token; Grafana sends the same one.
    assert api["jsonData"]["httpHeaderName1"] == "Authorization"
    assert api["secureJsonData"]["httpHeaderValue1"] == "Bearer $IOCMON_API_TOKEN"
    services = load(DEPLOY / "compose.yaml")["services"]
    token = services["worker"]["environment"]["IOCMON_API_TOKEN"]
    assert token.startswith("${IOCMON_API_TOKEN:?")
    assert services["grafana"]["environment"]["IOCMON_API_TOKEN"] == token


def test_dashboard_provider_reads_the_folder_compose_mounts() -> None:
    provider = load(DEPLOY / "grafana/provisioning/dashboards/iocmon.yaml")["providers"][0]
    path = provider["options"]["path"]
    grafana = load(DEPLOY / "compose.yaml")["services"]["grafana"]
    assert f"../dashboards:{path}:ro" in grafana["volumes"]
    assert infinity.PLUGIN_ID in grafana["environment"]["GF_INSTALL_PLUGINS"]


def test_compose_has_the_whole_stack() -> None:
    services = load(DEPLOY / "compose.yaml")["services"]
    assert {"kafka", "redis", "worker", "prometheus", "alertmanager", "grafana"} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "--appendonly" in services["redis"]["command"]
    assert services["worker"]["build"]["dockerfile"] == "deploy/docker/Dockerfile"
    assert services["worker"]["environment"]["IOCMON_WEB_HOST"] == "0.0.0.0"


def test_every_path_compose_refers_to_exists() -> None:
    compose = load(DEPLOY / "compose.yaml")
    for name, service in compose["services"].items():
        build = service.get("build")
        if build:
            context = (DEPLOY / build["context"]).resolve()
            assert context.is_dir(), name
            assert (context / build["dockerfile"]).is_file(), name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (DEPLOY / source).exists(), f"{name}: {source}"
            else:
                assert source in compose["volumes"], f"{name}: named volume {source}"


def test_prometheus_in_compose_scrapes_the_workers_and_loads_the_rules() -> None:
    config = load(DEPLOY / "docker/prometheus.yml")
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    assert jobs["iocmon"]["dns_sd_configs"][0]["names"] == ["worker"]
    assert config["rule_files"] == ["/etc/prometheus/rules/*.rules.yml"]
    volumes = load(DEPLOY / "compose.yaml")["services"]["prometheus"]["volumes"]
    assert "./prometheus:/etc/prometheus/rules:ro" in volumes


def test_the_dockerfile_installs_the_repository_with_pip() -> None:
    text = (DEPLOY / "docker/Dockerfile").read_text(encoding="utf-8")
    assert "pip install" in text
    for line in text.splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            for source in line.split()[1:-1]:
                assert (REPO / source).exists() or source == "README.md", source


def test_compose_runs_the_notifier_and_prometheus_scrapes_every_job_the_rules_name() -> None:
    services = load(DEPLOY / "compose.yaml")["services"]
    notifier = services["notifier"]
    assert notifier["command"] == ["notify"]
    assert notifier["environment"]["ALERTMANAGER_URL"] == "http://alertmanager:9093"
    port = notifier["environment"]["IOCMON_NOTIFY_PORT"]
    assert f"127.0.0.1:{port}/healthz" in " ".join(notifier["healthcheck"]["test"])
    scrape = load(DEPLOY / "docker/prometheus.yml")["scrape_configs"]
    jobs = {job["job_name"]: job for job in scrape}
    assert jobs["iocmon-notify"]["static_configs"][0]["targets"] == [f"notifier:{port}"]
    named = set()
    for rules in (DEPLOY / "prometheus").glob("*.rules.yml"):
        named |= set(re.findall(r'job="([^"]+)"', rules.read_text(encoding="utf-8")))
    assert named and named <= set(jobs), named - set(jobs)


def test_the_image_copies_every_package_the_wheel_installs_but_the_dev_dashboards() -> None:
    """No Docker here: the recipe's COPY lines against the packages pyproject installs."""
    recipe = (DEPLOY / "docker/Dockerfile").read_text(encoding="utf-8")
    copied = set(re.findall(r"^COPY (\w+) \./\1$", recipe, flags=re.M))
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = project["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {p.rstrip("*") for p in patterns}
    assert packages == {"iocmon"}  # one namespace (issue #15)
    linked = {
        path.resolve().relative_to(REPO).as_posix()
        for path in (REPO / "iocmon").iterdir()
        if path.is_symlink()
    }
    assert linked == {"streams", "producers", "notifier"}
    assert packages | linked <= copied, (packages | linked) - copied
    assert all((REPO / name / "__init__.py").exists() for name in copied)
    assert "HEALTHCHECK" in recipe and "/healthz" in recipe
    assert re.search(r"^USER iocmon$", recipe, flags=re.M)
    ignored = (REPO / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".venv", ".cache", ".local", ".git"} <= set(ignored)
