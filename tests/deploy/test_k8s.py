"""deploy/k8s checked offline (no cluster here): schemas, and every container's environment against the code.

The kustomization is built the way kustomize builds this one (namespace, common
labels, image tag; the test refuses any other kustomize field, so the two cannot
drift apart), each object validated strictly against the Kubernetes JSON schemas
that kubernetes-validate bundles (unknown fields rejected), then checked against
labelstream: the environment loads through the settings model, probes hit
/livez and /readyz on the port the settings give, the Service, HPA and PDB select
the right pods, one learner, the image tag is the package version.
"""

from __future__ import annotations

import copy
import functools
import re

import kubernetes_validate
import pytest
import yaml
from deploy_support import SERVICES, VERSION, service_port, settings_from_env
from prom_harness import REPO

from labelstream.errors import ConfigError

K8S = REPO / "deploy" / "k8s"
KUBERNETES_VERSIONS = ("1.30.0", "1.34.0")  # the oldest and a recent release the schemas check against
KUSTOMIZE_FIELDS = {"apiVersion", "kind", "namespace", "labels", "resources", "images"}
CLUSTER_SCOPED = {"Namespace"}


@functools.cache
def build() -> list[dict]:
    """The objects ``kubectl apply -k deploy/k8s`` creates (shared: callers copy before changing one)."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert set(kustomization) <= KUSTOMIZE_FIELDS, f"teach build() {set(kustomization) - KUSTOMIZE_FIELDS}"
    images = {image["name"]: f"{image['newName']}:{image['newTag']}" for image in kustomization["images"]}
    labels = {k: v for entry in kustomization["labels"] for k, v in entry["pairs"].items()}
    objects = []
    for resource in kustomization["resources"]:
        for obj in yaml.safe_load_all((K8S / resource).read_text()):
            obj = copy.deepcopy(obj)
            if obj["kind"] not in CLUSTER_SCOPED:
                obj["metadata"]["namespace"] = kustomization["namespace"]
            obj["metadata"].setdefault("labels", {}).update(labels)
            for container in containers(obj):
                container["image"] = images.get(container["image"], container["image"])
            objects.append(obj)
    return objects


def containers(obj: dict) -> list[dict]:
    spec = obj.get("spec", {})
    pod = spec.get("template", {}).get("spec", {})
    return pod.get("containers", []) + pod.get("initContainers", [])


def by_kind(kind: str) -> dict[str, dict]:
    return {obj["metadata"]["name"]: obj for obj in build() if obj["kind"] == kind}


def container_env(container: dict) -> dict[str, str]:
    """The container's LABELSTREAM_* environment, ConfigMaps and Secrets resolved."""
    configmaps, secrets = by_kind("ConfigMap"), by_kind("Secret")
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env |= configmaps[source["configMapRef"]["name"]]["data"]
        else:
            env |= secrets[source["secretRef"]["name"]]["stringData"]
    for variable in container.get("env", []):
        if "value" in variable:
            env[variable["name"]] = variable["value"]
    return {k: str(v) for k, v in env.items() if k.startswith("LABELSTREAM_")}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_is_valid_against_the_kubernetes_schemas(version):
    objects = build()
    assert {obj["kind"] for obj in objects} == {
        "Namespace", "ConfigMap", "Secret", "Job", "Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Service",
    }
    for obj in objects:
        kubernetes_validate.validate(obj, version, strict=True)


def test_the_schema_check_rejects_a_misspelled_field():
    """The validation above can fail: an unknown field and a wrong type are caught."""
    deployment = copy.deepcopy(by_kind("Deployment")["labelstream-labeler"])
    deployment["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)
    deployment = copy.deepcopy(by_kind("Deployment")["labelstream-labeler"])
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "9400"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)


def test_shipped_secret_is_refused_in_production_until_the_key_is_set():
    (container,) = containers(by_kind("Deployment")["labelstream-learner"])
    env = container_env(container)
    assert env["LABELSTREAM_ENVIRONMENT"] == "production"
    with pytest.raises(ConfigError, match="snapshot_hmac_key must be set"):
        settings_from_env(env)
    settings_from_env(env | {"LABELSTREAM_LEARNER__SNAPSHOT_HMAC_KEY": "a-real-key-of-the-operator"})


def service_settings(container: dict):
    return settings_from_env(container_env(container) | {"LABELSTREAM_LEARNER__SNAPSHOT_HMAC_KEY": "set-by-the-operator"})


@pytest.mark.parametrize("service", SERVICES)
def test_services_run_their_command_and_probe_their_own_port(service):
    deployment = by_kind("Deployment")[f"labelstream-{service}"]
    (container,) = containers(deployment)
    settings = service_settings(container)
    port = service_port(settings, service)
    assert container["args"][:2] == ["run", service]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe, path in (("startupProbe", "/livez"), ("livenessProbe", "/livez"), ("readinessProbe", "/readyz")):
        get = container[probe]["httpGet"]
        assert get["path"] == path and ports[get["port"]] == port, (service, probe)
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(port) and annotations["prometheus.io/path"] == "/metrics"
    assert container["resources"]["requests"]["cpu"] and container["resources"]["requests"]["memory"]
    assert container["image"] == f"labelstream:{VERSION}"
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] == 10001  # the image's uid
    assert deployment["spec"]["selector"]["matchLabels"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()


def test_each_labeler_has_its_own_transactional_id():
    (container,) = containers(by_kind("Deployment")["labelstream-labeler"])
    assert container["args"] == ["run", "labeler", "--instance", "$(POD_NAME)"]
    (pod_name,) = [v for v in container["env"] if v["name"] == "POD_NAME"]
    assert pod_name["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"


def test_one_learner_never_two():
    learner = by_kind("Deployment")["labelstream-learner"]
    assert learner["spec"]["replicas"] == 1 and learner["spec"]["strategy"]["type"] == "Recreate"
    assert "labelstream-learner" not in by_kind("HorizontalPodAutoscaler")


def test_hpa_pdb_and_service_select_the_right_pods():
    labeler = by_kind("Deployment")["labelstream-labeler"]
    pod_labels = labeler["spec"]["template"]["metadata"]["labels"]
    hpa = by_kind("HorizontalPodAutoscaler")["labelstream-labeler"]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "labelstream-labeler"}
    (container,) = containers(labeler)
    assert hpa["spec"]["maxReplicas"] <= service_settings(container).topics.partitions  # more would idle
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    pdb = by_kind("PodDisruptionBudget")["labelstream-labeler"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    review = by_kind("Deployment")["labelstream-review"]
    service = by_kind("Service")["labelstream-review"]
    assert service["spec"]["selector"].items() <= review["spec"]["template"]["metadata"]["labels"].items()
    (review_container,) = containers(review)
    (port,) = service["spec"]["ports"]
    named = {p["name"]: p["containerPort"] for p in review_container["ports"]}
    assert named[port["targetPort"]] == service_settings(review_container).review.port


def test_topics_job_and_every_container_load_the_same_settings():
    job = by_kind("Job")["labelstream-topics"]
    (container,) = containers(job)
    assert container["args"] == ["topics", "create"]
    envs = {obj["metadata"]["name"]: container_env(c) for obj in build() for c in containers(obj)}
    assert len(envs) == 4 and len({tuple(sorted(e.items())) for e in envs.values()}) == 1


def test_configmap_names_only_real_settings():
    """A misspelled variable would be ignored silently by pydantic-settings' env source: check each name."""
    data = by_kind("ConfigMap")["labelstream-config"]["data"] | by_kind("Secret")["labelstream-secrets"]["stringData"]
    settings = settings_from_env({})
    for name in data:
        section, _, field = name.removeprefix("LABELSTREAM_").lower().partition("__")
        target = getattr(settings, section)
        assert not field or field in type(target).model_fields, name
        assert re.fullmatch(r"LABELSTREAM_[A-Z_]+", name)
