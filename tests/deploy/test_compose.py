"""docker-compose.yml checked offline: `docker-compose config`, then the resolved file against the code.

No Docker engine here, so nothing is started. What is checked: Debian's
docker-compose accepts the file (with the defaults and with .env.example);
every labelstream container's environment loads through the settings model;
the ports, health URLs, Prometheus targets and the Grafana mounts agree with
the settings and the repository; images are pinned (Kafka at the tests'
version); dependencies wait for health; `promtool check config` passes on the
Prometheus config as compose mounts it.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml
from deploy_support import SERVICES, VERSION, service_port, settings_from_env
from prom_harness import REPO

COMPOSE = REPO / "docker-compose.yml"
LONG_RUNNING = {"kafka", "redis", "labeler", "learner", "review", "prometheus", "grafana", "demo-reviewers"}
ONE_SHOT = {"topics", "demo-data", "demo-produce"}


def compose_config(env_file: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABELSTREAM_", "KAFKA_", "REDIS_", "DEMO_", "GRAFANA_"))}
    result = subprocess.run(
        ["docker-compose", "--project-directory", str(REPO), "-f", str(COMPOSE), "--env-file", str(env_file),
         "--profile", "demo", "config"],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


@functools.cache
def resolved() -> dict:
    """The file as docker-compose resolves it with every default (an empty .env)."""
    with tempfile.TemporaryDirectory() as directory:  # one per process: xdist workers read the file at once
        empty = Path(directory) / "empty.env"
        empty.write_text("")
        return compose_config(empty)


def services() -> dict[str, dict]:
    return resolved()["services"]


def labelstream_services() -> dict[str, dict]:
    return {name: s for name, s in services().items() if s["image"].startswith("labelstream:")}


def kafka_version() -> str:
    pom = ET.parse(REPO / "deploy" / "kafka" / "pom.xml").getroot()
    (version,) = [e.text for e in pom.iter() if e.tag.endswith("kafka.version")]
    return version


def test_docker_compose_config_accepts_the_file_and_the_env_example():
    assert set(services()) == LONG_RUNNING | ONE_SHOT
    with_example = compose_config(REPO / ".env.example")["services"]
    for name, service in labelstream_services().items():
        example_env = with_example[name].get("environment", {})
        settings_from_env(example_env)  # .env.example's values are valid settings too
        assert example_env.keys() == service.get("environment", {}).keys()


def test_every_labelstream_container_environment_loads_through_the_settings_model():
    assert set(labelstream_services()) == {"topics", "labeler", "learner", "review", "demo-data", "demo-produce", "demo-reviewers"}
    for name, service in labelstream_services().items():
        settings = settings_from_env(service["environment"])
        host, port = settings.kafka.bootstrap_servers.split(":")
        listeners = services()["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
        assert f"INTERNAL://{host}:{port}" in listeners.split(","), name
        assert f"INTERNAL://:{port}" in services()["kafka"]["environment"]["KAFKA_LISTENERS"]
        assert re.fullmatch(r"redis://redis:6379/\d+", settings.redis.url), name
        assert service["image"] == f"labelstream:{VERSION}" and service["build"]["context"] == str(REPO)


def test_services_healthchecks_probe_their_own_livez():
    for service_name in SERVICES:
        service = services()[service_name]
        settings = settings_from_env(service["environment"])
        test = service["healthcheck"]["test"]
        assert test == ["CMD", "labelstream-healthcheck", f"http://127.0.0.1:{service_port(settings, service_name)}/livez"]
        command = " ".join(service.get("entrypoint") or []) + " " + " ".join(service.get("command") or [])
        assert f"labelstream run {service_name}" in command or command.split() == ["run", service_name], command
    review = services()["review"]
    assert review["ports"][0]["target"] == settings_from_env(review["environment"]).review.port


def test_labelers_scale_each_with_its_own_transactional_id():
    labeler = services()["labeler"]
    assert "ports" not in labeler and "container_name" not in labeler  # --scale labeler=N needs both absent
    assert labeler["entrypoint"][:2] == ["sh", "-c"] and '--instance "$$HOSTNAME"' in labeler["entrypoint"][2]
    assert settings_from_env(labeler["environment"]).topics.partitions >= 3  # room for several labelers


def test_images_are_pinned_and_kafka_is_the_tested_version():
    for name, service in services().items():
        image = service["image"]
        assert re.fullmatch(r"[a-z0-9./-]+:v?\d+(\.\d+)+", image), f"{name}: {image} is not pinned to a version"
    assert services()["kafka"]["image"] == f"apache/kafka:{kafka_version()}"


def test_dependencies_wait_for_health_and_long_runners_restart():
    for name, service in services().items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert condition["condition"] in ("service_healthy", "service_completed_successfully"), (name, dependency)
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services()[dependency], f"{name} waits for {dependency}, which has no healthcheck"
            else:
                assert dependency in ONE_SHOT
        if name in LONG_RUNNING:
            assert service["restart"] == "unless-stopped", name
            assert "healthcheck" in service or name == "demo-reviewers", name
        else:
            assert service["restart"] == "no", name
    assert all(services()[name].get("profiles") == ["demo"] for name in services() if name.startswith("demo-"))
    assert not any(services()[name].get("profiles") for name in services() if not name.startswith("demo-"))


def test_redis_keeps_its_data():
    redis = services()["redis"]
    assert redis["command"][:3] == ["redis-server", "--appendonly", "yes"]
    assert volumes("redis")["/data"] in resolved()["volumes"]  # a named volume
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def test_kafka_matches_the_local_stack_settings():
    env = services()["kafka"]["environment"]
    stack = (REPO / "deploy" / "stack.sh").read_text()
    for key in ("message.max.bytes", "transaction.state.log.min.isr", "auto.create.topics.enable"):
        (value,) = re.findall(rf"^{re.escape(key)}=(\S+)$", stack, re.M)
        assert str(env["KAFKA_" + key.upper().replace(".", "_")]) == value, key


def volumes(service: str) -> dict[str, str]:
    """container path -> source (a named volume, or an absolute host path) of a service's mounts.

    Debian's docker-compose (1.29) prints the short syntax ``source:target[:mode]``; newer ones the long one.
    """
    found = {}
    for volume in services()[service]["volumes"]:
        if isinstance(volume, dict):
            found[volume["target"]] = volume["source"]
        else:
            source, target = volume.split(":")[:2]
            found[target] = source
    return found


def mounts(service: str) -> dict[str, Path]:
    """container path -> repository path of a service's bind mounts."""
    return {target: Path(source) for target, source in volumes(service).items() if source.startswith("/")}


def test_prometheus_config_as_mounted_passes_promtool_and_scrapes_the_services():
    prometheus = services()["prometheus"]
    (config_arg,) = [a for a in prometheus["command"] if a.startswith("--config.file=")]
    container_path = Path(config_arg.split("=", 1)[1])
    host_dir = mounts("prometheus")[str(container_path.parent)]
    config_file = host_dir / container_path.name
    assert host_dir == REPO / "deploy" / "prometheus" and config_file.is_file()
    result = subprocess.run(["promtool", "check", "config", container_path.name], cwd=host_dir,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rule files found" in result.stdout
    config = yaml.safe_load(config_file.read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {f"labelstream-{s}" for s in SERVICES}
    for service_name in SERVICES:
        job = jobs[f"labelstream-{service_name}"]
        port = service_port(settings_from_env(services()[service_name]["environment"]), service_name)
        if "dns_sd_configs" in job:  # labelers: every replica of the compose service
            (sd,) = job["dns_sd_configs"]
            assert sd["names"] == [service_name] and sd["type"] == "A" and sd["port"] == port
        else:
            assert job["static_configs"] == [{"targets": [f"{service_name}:{port}"]}]


def test_grafana_gets_the_datasource_and_the_dashboard():
    mounted = mounts("grafana")
    datasources = yaml.safe_load((mounted["/etc/grafana/provisioning/datasources"] / "prometheus.yml").read_text())
    (source,) = datasources["datasources"]
    assert source["url"] == f"http://prometheus:{services()['prometheus']['ports'][0]['target']}"
    local = (REPO / "deploy" / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    assert f"uid: {source['uid']}" in local  # the dashboard's default datasource either way
    providers = yaml.safe_load((mounted["/etc/grafana/provisioning/dashboards"] / "labelstream.yml").read_text())
    dashboards_path = providers["providers"][0]["options"]["path"]
    assert mounted[dashboards_path] == REPO / "deploy" / "grafana" / "dashboards"
    home = services()["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{dashboards_path}/labelstream.json"


def test_demo_profile_streams_a_dataset_to_reviewers_working_the_api():
    demo = {name: services()[name] for name in ("demo-data", "demo-produce", "demo-reviewers")}
    path = demo["demo-data"]["command"][3]
    assert demo["demo-data"]["command"][:2] == ["datasets", "export"]
    assert demo["demo-produce"]["command"][:2] == ["produce", path]
    reviewers = demo["demo-reviewers"]["command"]
    assert reviewers[:3] == ["run", "reviewer-sim", "--via-api"]
    review_port = settings_from_env(services()["review"]["environment"]).review.port
    assert reviewers[reviewers.index("--url") + 1] == f"http://review:{review_port}"
    assert reviewers[reviewers.index("--data") + 1] == path
    assert demo["demo-reviewers"]["depends_on"]["review"] == {"condition": "service_healthy"}


def test_cli_accepts_the_compose_commands():
    """Every command compose runs names a real command and options it has (``--help`` appended: parsed, not run)."""
    from typer.testing import CliRunner

    from labelstream.cli.main import app

    for name, service in labelstream_services().items():
        args = service.get("command") or service["entrypoint"][2].split()[2:]
        args = [a for a in args if "HOSTNAME" not in a]
        if "--instance" in args:
            args.remove("--instance")
        result = CliRunner().invoke(app, [*args[:2], "--help"])
        assert result.exit_code == 0, (name, result.output)
        options = {a for a in args if a.startswith("--")}
        assert options <= set(re.findall(r"--[a-z-]+", result.output)), (name, options)
