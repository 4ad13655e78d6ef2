"""docker/kuberay/*.yaml (and the migrate Job in its README), checked statically: no Kubernetes cluster
runs here, so every field is checked against allow-lists of the real KubeRay v1 and Kubernetes field
names, the Serve config against Ray's own schema and serving/config.py, the training entrypoint
against training/job.py."""

from __future__ import annotations

import copy
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
KUBERAY = DOCKER / "kuberay"
MANIFESTS = {
    "raycluster.yaml": ["PersistentVolumeClaim", "RayCluster"],
    "rayjob-train.yaml": ["RayJob"],
    "rayservice.yaml": ["RayService"],
}
SECRET = "llm-twin-env"  # compose's env file as a Secret (README.md)
CLAIM = "llm-twin-home"
TWIN_HOME = "/data/twin"
HEAD_PORTS = {"gcs-server": 6379, "dashboard": 8265, "client": 10001, "serve": 8000}  # KubeRay's port names
# Set by KubeRay on every Ray container (RAY_ADDRESS always, the auth pair from authOptions): a second
# entry of the same name in the manifest would shadow or duplicate them.
KUBERAY_MANAGED_ENV = {"RAY_ADDRESS", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN"}
# What rayservice.yaml's serveConfigV2 changes in serving/config.yaml (marked "differs" there).
HTTP_DIFFERENCES = {"host": "0.0.0.0", "port": 8000}
DEPLOYMENT_DIFFERENCES = {"Generator": {"num_replicas": 2, "max_replicas_per_node": 1}}


# --- a small structural validator ------------------------------------------------------------------
#
# Each schema node checks one value and returns "path: problem" strings; Obj refuses any key it does not
# list, so a misspelled field fails here the way `kubectl apply` (strict field validation) fails.


class Any_:
    def check(self, value, path: str) -> list[str]:
        return []


ANY = Any_()


class Scalar:
    def __init__(self, *types: type):
        self.types = types

    def check(self, value, path: str) -> list[str]:
        # bool is an int in Python, not in Kubernetes' OpenAPI types
        if (isinstance(value, bool) and bool not in self.types) or not isinstance(value, self.types):
            names = "/".join(t.__name__ for t in self.types)
            return [f"{path}: {value!r} is not {names}"]
        return []


class OneOf:
    def __init__(self, *values):
        self.values = values

    def check(self, value, path: str) -> list[str]:
        return [] if value in self.values else [f"{path}: {value!r} is not one of {list(self.values)}"]


class ListOf:
    def __init__(self, item):
        self.item = item

    def check(self, value, path: str) -> list[str]:
        if not isinstance(value, list):
            return [f"{path}: not a list"]
        return [error for index, element in enumerate(value) for error in self.item.check(element, f"{path}[{index}]")]


class MapOf:
    def __init__(self, value):
        self.value = value

    def check(self, value, path: str) -> list[str]:
        if not isinstance(value, dict):
            return [f"{path}: not a mapping"]
        errors = [f"{path}: key {key!r} is not a string" for key in value if not isinstance(key, str)]
        return errors + [error for key, item in value.items() for error in self.value.check(item, f"{path}.{key}")]


class Obj:
    def __init__(self, fields: dict, required: tuple[str, ...] = ()):
        self.fields = fields
        self.required = required

    def check(self, value, path: str) -> list[str]:
        if not isinstance(value, dict):
            return [f"{path}: not a mapping"]
        errors = [f"{path}.{key}: unknown field" for key in value if key not in self.fields]
        errors += [f"{path}.{key}: required field missing" for key in self.required if key not in value]
        for key, item in value.items():
            if key in self.fields:
                errors += self.fields[key].check(item, f"{path}.{key}")
        return errors


STR, INT, BOOL, NUMBER = Scalar(str), Scalar(int), Scalar(bool), Scalar(int, float)
QUANTITY = Scalar(str, int)  # int-or-string in the CRDs' OpenAPI schema: a float like 0.5 is refused
STR_MAP = MapOf(STR)

# Kubernetes core/v1 and batch/v1 (k8s.io/api core/v1/types.go, batch/v1/types.go): the fields these
# manifests use, strictly, and the rest of each type's fields accepted as they come.
OBJECT_META = Obj({"name": STR, "generateName": STR, "namespace": STR, "labels": STR_MAP, "annotations": STR_MAP})
KEY_REF = Obj({"name": STR, "key": STR, "optional": BOOL}, required=("key",))
ENV_VAR = Obj(
    {
        "name": STR,
        "value": STR,  # `value: 1` or `value: true` is refused by the API server
        "valueFrom": Obj(
            {"secretKeyRef": KEY_REF, "configMapKeyRef": KEY_REF, "fieldRef": ANY, "resourceFieldRef": ANY}
        ),
    },
    required=("name",),
)
NAME_REF = Obj({"name": STR, "optional": BOOL})
ENV_FROM = Obj({"prefix": STR, "secretRef": NAME_REF, "configMapRef": NAME_REF})
CONTAINER_PORT = Obj(
    {"name": STR, "containerPort": INT, "hostPort": INT, "hostIP": STR, "protocol": OneOf("TCP", "UDP", "SCTP")},
    required=("containerPort",),
)
RESOURCES = Obj({"requests": MapOf(QUANTITY), "limits": MapOf(QUANTITY), "claims": ANY})
VOLUME_MOUNT = Obj(
    {
        "name": STR,
        "mountPath": STR,
        "readOnly": BOOL,
        "subPath": STR,
        "subPathExpr": STR,
        "mountPropagation": STR,
        "recursiveReadOnly": STR,
    },
    required=("name", "mountPath"),
)
PORT_REF = Scalar(int, str)
PROBE = Obj(
    {
        "httpGet": Obj(
            {"path": STR, "port": PORT_REF, "host": STR, "scheme": OneOf("HTTP", "HTTPS"), "httpHeaders": ANY},
            required=("port",),
        ),
        "exec": Obj({"command": ListOf(STR)}),
        "tcpSocket": Obj({"port": PORT_REF, "host": STR}, required=("port",)),
        "grpc": ANY,
        "initialDelaySeconds": INT,
        "timeoutSeconds": INT,
        "periodSeconds": INT,
        "successThreshold": INT,
        "failureThreshold": INT,
        "terminationGracePeriodSeconds": INT,
    }
)
CONTAINER = Obj(
    {
        "name": STR,
        "image": STR,
        "imagePullPolicy": OneOf("Always", "IfNotPresent", "Never"),
        "command": ListOf(STR),
        "args": ListOf(STR),
        "workingDir": STR,
        "ports": ListOf(CONTAINER_PORT),
        "envFrom": ListOf(ENV_FROM),
        "env": ListOf(ENV_VAR),
        "resources": RESOURCES,
        "resizePolicy": ANY,
        "restartPolicy": STR,
        "volumeMounts": ListOf(VOLUME_MOUNT),
        "volumeDevices": ANY,
        "livenessProbe": PROBE,
        "readinessProbe": PROBE,
        "startupProbe": PROBE,
        "lifecycle": ANY,
        "terminationMessagePath": STR,
        "terminationMessagePolicy": STR,
        "securityContext": ANY,
        "stdin": BOOL,
        "stdinOnce": BOOL,
        "tty": BOOL,
    },
    required=("name",),
)
VOLUME = Obj(
    {
        "name": STR,
        "persistentVolumeClaim": Obj({"claimName": STR, "readOnly": BOOL}, required=("claimName",)),
        "emptyDir": Obj({"medium": STR, "sizeLimit": QUANTITY}),
        **{source: ANY for source in ("secret", "configMap", "projected", "downwardAPI", "hostPath", "nfs", "csi")},
        "ephemeral": ANY,
    },
    required=("name",),
)
TOLERATION = Obj(
    {
        "key": STR,
        "operator": OneOf("Exists", "Equal"),
        "value": STR,
        "effect": OneOf("NoSchedule", "PreferNoSchedule", "NoExecute"),
        "tolerationSeconds": INT,
    }
)
POD_SECURITY_CONTEXT = Obj(
    {
        "runAsUser": INT,
        "runAsGroup": INT,
        "runAsNonRoot": BOOL,
        "fsGroup": INT,
        "fsGroupChangePolicy": STR,
        "supplementalGroups": ListOf(INT),
        "supplementalGroupsPolicy": STR,
        "seccompProfile": ANY,
        "seLinuxOptions": ANY,
        "seLinuxChangePolicy": STR,
        "appArmorProfile": ANY,
        "sysctls": ANY,
        "windowsOptions": ANY,
    }
)
POD_SPEC = Obj(
    {
        "containers": ListOf(CONTAINER),
        "initContainers": ListOf(CONTAINER),
        "volumes": ListOf(VOLUME),
        "securityContext": POD_SECURITY_CONTEXT,
        "tolerations": ListOf(TOLERATION),
        "nodeSelector": STR_MAP,
        "affinity": ANY,
        "topologySpreadConstraints": ANY,
        "restartPolicy": OneOf("Always", "OnFailure", "Never"),
        "serviceAccountName": STR,
        "automountServiceAccountToken": BOOL,
        "imagePullSecrets": ANY,
        "priorityClassName": STR,
        "runtimeClassName": STR,
        "schedulerName": STR,
        "terminationGracePeriodSeconds": INT,
        "activeDeadlineSeconds": INT,
        "enableServiceLinks": BOOL,
        "dnsPolicy": STR,
        "hostNetwork": BOOL,
    },
    required=("containers",),
)
POD_TEMPLATE = Obj({"metadata": OBJECT_META, "spec": POD_SPEC}, required=("spec",))
PVC_SPEC = Obj(
    {
        "accessModes": ListOf(OneOf("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")),
        "resources": Obj({"requests": MapOf(QUANTITY), "limits": MapOf(QUANTITY)}),
        "storageClassName": STR,
        "volumeMode": OneOf("Filesystem", "Block"),
        "volumeName": STR,
        "volumeAttributesClassName": STR,
        "selector": ANY,
        "dataSource": ANY,
        "dataSourceRef": ANY,
    },
    required=("accessModes", "resources"),
)
JOB_SPEC = Obj(
    {
        "template": POD_TEMPLATE,
        "backoffLimit": INT,
        "backoffLimitPerIndex": INT,
        "maxFailedIndexes": INT,
        "activeDeadlineSeconds": INT,
        "ttlSecondsAfterFinished": INT,
        "completions": INT,
        "parallelism": INT,
        "completionMode": STR,
        "suspend": BOOL,
        "podFailurePolicy": ANY,
        "successPolicy": ANY,
        "podReplacementPolicy": STR,
        "manualSelector": BOOL,
        "selector": ANY,
        "managedBy": STR,
    },
    required=("template",),
)

# KubeRay v1 (apiVersion ray.io/v1): the json tags of the spec types in ray-project/kuberay
# ray-operator/apis/ray/v1/raycluster_types.go, rayjob_types.go and rayservice_types.go, from which
# ray-operator/config/crd/bases/ray.io_rayclusters.yaml, ray.io_rayjobs.yaml and ray.io_rayservices.yaml
# are generated (read through the code index, versions from v1.0 to master). Fields newer than the
# v1.5.1 operator these manifests need (networkPolicy, tlsOptions, historyServerOptions, priority...)
# are accepted but unused; `required` is what the CRDs require (no omitempty on the json tag).
# Cross-field rules are ray-operator/pkg/utils/validation.go's (checked in the tests below).
HEAD_GROUP_SPEC = Obj(
    {
        "template": POD_TEMPLATE,
        "headService": ANY,
        "enableIngress": BOOL,
        "ingressOptions": ANY,
        "resources": STR_MAP,
        "labels": STR_MAP,
        "rayStartParams": STR_MAP,  # `ray start` flags; values must be strings: num-cpus: "0", not 0
        "serviceType": STR,
    },
    required=("rayStartParams", "template"),
)
WORKER_GROUP_SPEC = Obj(
    {
        "suspend": BOOL,
        "groupName": STR,
        "replicas": INT,
        "minReplicas": INT,
        "maxReplicas": INT,
        "idleTimeoutSeconds": INT,
        "priority": INT,
        "resources": STR_MAP,
        "labels": STR_MAP,
        "rayStartParams": STR_MAP,
        "template": POD_TEMPLATE,
        "scaleStrategy": ANY,
        "numOfHosts": INT,
    },
    required=("groupName", "minReplicas", "maxReplicas", "rayStartParams", "template"),
)
RAY_CLUSTER_SPEC = Obj(
    {
        "upgradeStrategy": ANY,
        "authOptions": Obj({"mode": OneOf("disabled", "token"), "secretName": STR, "enableK8sTokenAuth": BOOL}),
        "suspend": BOOL,
        "managedBy": STR,
        "autoscalerOptions": ANY,
        "headServiceAnnotations": STR_MAP,
        "enableInTreeAutoscaling": BOOL,
        "gcsFaultToleranceOptions": ANY,
        "historyServerOptions": ANY,
        "networkPolicy": ANY,
        "tlsOptions": ANY,
        "headGroupSpec": HEAD_GROUP_SPEC,
        "rayVersion": STR,
        "workerGroupSpecs": ListOf(WORKER_GROUP_SPEC),
    },
    required=("headGroupSpec",),
)
RAY_JOB_SPEC = Obj(
    {
        "activeDeadlineSeconds": INT,
        "backoffLimit": INT,
        "rayClusterSpec": RAY_CLUSTER_SPEC,
        "submitterPodTemplate": POD_TEMPLATE,
        "metadata": STR_MAP,
        "clusterSelector": STR_MAP,
        "submitterConfig": Obj({"backoffLimit": INT}),
        "managedBy": STR,
        "deletionStrategy": ANY,
        "entrypoint": STR,
        "runtimeEnvYAML": STR,
        "jobId": STR,
        "submissionMode": OneOf("K8sJobMode", "HTTPMode", "InteractiveMode", "SidecarMode"),
        "entrypointResources": STR,
        "entrypointNumCpus": NUMBER,
        "entrypointNumGpus": NUMBER,
        "ttlSecondsAfterFinished": INT,
        "shutdownAfterJobFinishes": BOOL,
        "suspend": BOOL,
    }
)
RAY_SERVICE_SPEC = Obj(
    {
        "serveConfigV2": STR,
        "rayClusterConfig": RAY_CLUSTER_SPEC,  # a RayService's cluster is rayClusterConfig, a RayJob's rayClusterSpec
        "serveService": ANY,
        "upgradeStrategy": ANY,
        "rayClusterDeletionDelaySeconds": INT,
        "excludeHeadPodFromServeSvc": BOOL,
        "serviceUnhealthySecondThreshold": INT,  # deprecated, ignored
        "deploymentUnhealthySecondThreshold": INT,  # deprecated, ignored
    },
    required=("rayClusterConfig",),
)
SPECS = {
    ("ray.io/v1", "RayCluster"): RAY_CLUSTER_SPEC,
    ("ray.io/v1", "RayJob"): RAY_JOB_SPEC,
    ("ray.io/v1", "RayService"): RAY_SERVICE_SPEC,
    ("v1", "PersistentVolumeClaim"): PVC_SPEC,
    ("batch/v1", "Job"): JOB_SPEC,
}


def validate(document) -> list[str]:
    """Every problem of one manifest document, as "path: problem"; [] when it is valid."""
    if not isinstance(document, dict):
        return ["document: not a mapping"]
    spec = SPECS.get((document.get("apiVersion"), document.get("kind")))
    if spec is None:
        return [f"apiVersion/kind: unknown {document.get('apiVersion')}/{document.get('kind')}"]
    top = Obj({"apiVersion": STR, "kind": STR, "metadata": OBJECT_META, "spec": spec}, required=("metadata", "spec"))
    errors = top.check(document, document["kind"])
    metadata = document.get("metadata") or {}
    if not (metadata.get("name") or metadata.get("generateName")):
        errors.append(f"{document['kind']}.metadata: neither name nor generateName")
    return errors


# --- the manifests -----------------------------------------------------------------------------------


def load(name: str) -> list[dict]:
    return [document for document in yaml.safe_load_all((KUBERAY / name).read_text()) if document is not None]


@pytest.fixture(scope="module")
def manifests() -> dict[str, list[dict]]:
    return {name: load(name) for name in MANIFESTS}


def one(manifests, kind: str) -> dict:
    found = [document for documents in manifests.values() for document in documents if document["kind"] == kind]
    assert len(found) == 1, kind
    return found[0]


@pytest.fixture(scope="module")
def raycluster(manifests) -> dict:
    return one(manifests, "RayCluster")


@pytest.fixture(scope="module")
def rayjob(manifests) -> dict:
    return one(manifests, "RayJob")


@pytest.fixture(scope="module")
def rayservice(manifests) -> dict:
    return one(manifests, "RayService")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def readme() -> str:
    return (KUBERAY / "README.md").read_text()


def readme_migrate_job(readme: str) -> dict:
    blocks = [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", readme, re.S)]
    jobs = [block for block in blocks if isinstance(block, dict) and block.get("kind") == "Job"]
    assert len(jobs) == 1, "README.md: one Job manifest (the migrations)"
    return jobs[0]


def cluster_specs(document: dict) -> list[dict]:
    """The Ray clusters a document defines: a RayCluster's spec, a RayService's rayClusterConfig, a RayJob's
    rayClusterSpec (none with clusterSelector); none for other kinds."""
    spec = document["spec"]
    if document["kind"] == "RayCluster":
        return [spec]
    return [spec[key] for key in ("rayClusterSpec", "rayClusterConfig") if key in spec]


def groups(cluster: dict) -> list[tuple[str, dict]]:
    """("head", headGroupSpec), then (groupName, workerGroupSpec) for each worker group."""
    return [("head", cluster["headGroupSpec"])] + [(group["groupName"], group) for group in cluster["workerGroupSpecs"]]


def ray_pod_templates(manifests) -> list[tuple[str, dict]]:
    return [
        (f"{document['kind']}/{name}", group["template"])
        for documents in manifests.values()
        for document in documents
        for cluster in cluster_specs(document)
        for name, group in groups(cluster)
    ]


def env_of(container: dict) -> dict[str, dict]:
    return {entry["name"]: entry for entry in container.get("env", [])}


def gpus(container: dict) -> int:
    return int((container.get("resources", {}).get("limits") or {}).get("nvidia.com/gpu", 0))


# --- tests -------------------------------------------------------------------------------------------


def test_files_and_kinds(manifests):
    assert {path.name for path in KUBERAY.glob("*.yaml")} == set(MANIFESTS)
    for name, kinds in MANIFESTS.items():
        assert [document["kind"] for document in manifests[name]] == kinds, name
        for document in manifests[name]:
            expected = "ray.io/v1" if document["kind"].startswith("Ray") else "v1"
            assert document["apiVersion"] == expected, (name, document["kind"])


@pytest.mark.parametrize("name", sorted(MANIFESTS))
def test_every_field_is_a_kuberay_or_kubernetes_field(manifests, name):
    for document in manifests[name]:
        assert validate(document) == [], f"{name}: {document['kind']}"


def test_the_readme_migrate_job_is_valid(readme):
    assert validate(readme_migrate_job(readme)) == []


def mutate_rayjob(document):
    document["spec"]["rayClusterSpecs"] = {"headGroupSpec": {}}


def mutate_rayservice(document):
    document["spec"]["rayClusterSpec"] = document["spec"].pop("rayClusterConfig")  # RayJob's name, on a RayService


def mutate_worker(document):
    document["spec"]["workerGroupSpecs"][0]["minReplica"] = document["spec"]["workerGroupSpecs"][0].pop("minReplicas")


def mutate_container(document):
    container = document["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    container["envfrom"] = container.pop("envFrom")


def mutate_start_param(document):
    document["spec"]["headGroupSpec"]["rayStartParams"]["num-cpus"] = 0


def mutate_env_value(document):
    document["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["env"][0]["value"] = 1


def mutate_api_version(document):
    document["apiVersion"] = "ray.io/v1alpha1"


def mutate_float_quantity(document):
    document["spec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = 0.5


@pytest.mark.parametrize(
    "kind, mutate, expected",
    [
        ("RayJob", mutate_rayjob, "RayJob.spec.rayClusterSpecs: unknown field"),
        ("RayService", mutate_rayservice, "RayService.spec.rayClusterSpec: unknown field"),
        ("RayService", mutate_rayservice, "RayService.spec.rayClusterConfig: required field missing"),
        ("RayCluster", mutate_worker, "RayCluster.spec.workerGroupSpecs[0].minReplica: unknown field"),
        ("RayCluster", mutate_worker, "RayCluster.spec.workerGroupSpecs[0].minReplicas: required field missing"),
        ("RayCluster", mutate_container, "containers[0].envfrom: unknown field"),
        ("RayCluster", mutate_start_param, "RayCluster.spec.headGroupSpec.rayStartParams.num-cpus: 0 is not str"),
        ("RayCluster", mutate_env_value, "env[0].value: 1 is not str"),
        ("RayCluster", mutate_api_version, "apiVersion/kind: unknown ray.io/v1alpha1/RayCluster"),
        ("RayCluster", mutate_float_quantity, "resources.limits.cpu: 0.5 is not str/int"),
    ],
)
def test_the_validator_rejects_what_the_api_server_would(manifests, kind, mutate, expected):
    document = copy.deepcopy(one(manifests, kind))
    assert validate(document) == []
    mutate(document)
    errors = validate(document)
    assert any(expected in error for error in errors), errors


def check_common_pod(where: str, template: dict) -> dict:
    """What every pod of the deployment has: the project image, sized, the env file, TWIN_HOME on the
    shared claim. Returns its (first and only) container."""
    spec = template["spec"]
    assert len(spec["containers"]) == 1, where  # KubeRay's Ray container is containers[0]
    container = spec["containers"][0]
    assert container["image"] in ("llm-twin:latest", "llm-twin-gpu:latest"), where
    for side in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][side]), (where, side)
    assert {"secretRef": {"name": SECRET}} in container["envFrom"], where
    env = env_of(container)
    assert len(env) == len(container.get("env", [])), f"{where}: an env var set twice"
    assert env["TWIN_HOME"] == {"name": "TWIN_HOME", "value": TWIN_HOME}, where
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    mounts = [mount for mount in container["volumeMounts"] if mount["mountPath"] == TWIN_HOME]
    assert len(mounts) == 1 and not mounts[0].get("readOnly"), where
    assert volumes[mounts[0]["name"]]["persistentVolumeClaim"] == {"claimName": CLAIM}, where
    security = spec["securityContext"]
    assert security["runAsUser"] == 1000 and security["fsGroup"] == 1000, where  # the image's `twin` user
    return container


def test_ray_pod_templates(manifests):
    from ray._private.ray_constants import DEFAULT_DASHBOARD_AGENT_LISTEN_PORT

    templates = ray_pod_templates(manifests)
    assert len(templates) == 5  # RayCluster: head, cpu, gpu; RayService: head, cpu
    for where, template in templates:
        container = check_common_pod(where, template)
        env = env_of(container)
        assert not KUBERAY_MANAGED_ENV & set(env), f"{where}: KubeRay sets {sorted(KUBERAY_MANAGED_ENV & set(env))}"
        assert env["TWIN_DB_ROLE"]["value"] == "serving", where  # compose's Ray nodes: docker/roles/serving.env
        storage = env["TWIN_STORAGE_URI"]["value"]
        assert storage.startswith(TWIN_HOME) or urlsplit(storage).scheme in ("s3", "gs", "az", "abfss"), where
        resources = container["resources"]
        for name in ("cpu", "memory"):  # requests == limits: Ray's view of the node is what the pod gets
            assert str(resources["requests"][name]) == str(resources["limits"][name]), (where, name)
        for probe in ("readinessProbe", "livenessProbe"):  # no wget in python:3.11-slim for KubeRay's exec probes
            assert container[probe]["httpGet"] == {
                "path": "/api/healthz",
                "port": DEFAULT_DASHBOARD_AGENT_LISTEN_PORT,
            }, (where, probe)
        shm = [mount for mount in container["volumeMounts"] if mount["mountPath"] == "/dev/shm"]
        volumes = {volume["name"]: volume for volume in template["spec"]["volumes"]}
        assert shm and volumes[shm[0]["name"]]["emptyDir"]["medium"] == "Memory", where
        assert "restartPolicy" not in template["spec"], where  # autoscaler v2 wants it unset (or Never)


def test_images_are_the_ones_compose_builds(manifests, compose):
    services = compose["services"]
    cpu_image, gpu_image = services["ray-head"]["image"], services["ray-worker-gpu"]["image"]
    assert (cpu_image, gpu_image) == ("llm-twin:latest", "llm-twin-gpu:latest")
    for where, template in ray_pod_templates(manifests):
        container = template["spec"]["containers"][0]
        if where.endswith("/gpu"):
            assert container["image"] == gpu_image and gpus(container) == 1, where
            assert template["spec"]["tolerations"][0]["key"] == "nvidia.com/gpu", where
        else:
            assert container["image"] == cpu_image and gpus(container) == 0, where


def test_the_shared_volume(manifests, compose):
    claim = one(manifests, "PersistentVolumeClaim")
    assert claim["metadata"]["name"] == CLAIM
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]  # every Ray pod, on any node, reads and writes it
    assert claim["spec"]["resources"]["requests"]["storage"]
    # compose's TWIN_HOME (the env file's value, the twin-home volume's mount point, the Dockerfile's ENV)
    assert f"TWIN_HOME={TWIN_HOME}\n" in (DOCKER / ".env.example").read_text()
    assert f"twin-home:{TWIN_HOME}" in compose["services"]["ray-head"]["volumes"]
    assert f"TWIN_HOME={TWIN_HOME}" in (DOCKER / "Dockerfile").read_text()


def test_raycluster_shape(raycluster):
    import ray
    from ray.scripts.scripts import start

    spec = raycluster["spec"]
    assert raycluster["metadata"]["name"] == "llm-twin"
    assert spec["enableInTreeAutoscaling"] is True
    assert spec["authOptions"] == {"mode": "token"}
    lock = re.search(r"^ray==(\S+)$", (ROOT / "requirements.lock").read_text(), re.M).group(1)
    assert spec["rayVersion"] == lock == ray.__version__  # authOptions needs rayVersion >= 2.52.0
    head = spec["headGroupSpec"]
    assert head["rayStartParams"] == {"dashboard-host": "0.0.0.0", "num-cpus": "0"}
    ports = {port["name"]: port["containerPort"] for port in head["template"]["spec"]["containers"][0]["ports"]}
    assert ports == HEAD_PORTS
    workers = {group["groupName"]: group for group in spec["workerGroupSpecs"]}
    assert set(workers) == {"cpu", "gpu"}
    cpu, gpu = workers["cpu"], workers["gpu"]
    assert (cpu["replicas"], cpu["minReplicas"], cpu["maxReplicas"]) == (2, 1, 4)
    assert (gpu["minReplicas"], gpu["maxReplicas"]) == (0, 2)
    for group in spec["workerGroupSpecs"]:
        assert group["minReplicas"] <= group.get("replicas", 0) <= group["maxReplicas"], group["groupName"]
    options = {option for parameter in start.params for option in parameter.opts}
    for name, group in groups(spec):
        unknown = {key for key in group["rayStartParams"] if f"--{key}" not in options}
        assert not unknown, f"{name}: not `ray start` options: {sorted(unknown)}"


def test_rayjob_runs_training_on_the_raycluster(rayjob, raycluster):
    from ray.runtime_env import RuntimeEnv

    spec = rayjob["spec"]
    assert rayjob["metadata"]["generateName"].endswith("-")  # a new RayJob per run (kubectl create)
    # clusterSelector mode (ray-operator/pkg/utils/validation.go, ValidateRayJobSpec): the RayJob must not
    # also bring a cluster, must not delete the one it selected, and may not be suspended or retried.
    assert spec["clusterSelector"] == {"ray.io/cluster": raycluster["metadata"]["name"]}
    assert "rayClusterSpec" not in spec
    assert spec["shutdownAfterJobFinishes"] is False
    assert not spec.get("ttlSecondsAfterFinished")  # only with shutdownAfterJobFinishes: true
    assert not spec.get("suspend") and not spec.get("backoffLimit")
    assert spec["submissionMode"] in ("K8sJobMode", "HTTPMode")  # SidecarMode needs its own cluster
    assert spec["activeDeadlineSeconds"] > 0
    runtime_env = yaml.safe_load(spec["runtimeEnvYAML"])
    assert set(runtime_env) <= RuntimeEnv.known_fields
    assert "working_dir" not in runtime_env  # the image has the project at /app
    assert runtime_env["env_vars"] == {"TWIN_DB_ROLE": "pipeline"}  # the driver writes the registry


def test_the_job_runtime_env_does_not_clash_with_the_drivers(rayjob, monkeypatch):
    """The driver's ray.init(runtime_env=...) is merged with the job's; Ray refuses the job when both set
    the same key (ray._private.worker: "Failed to merge the Job's runtime env")."""
    from ray.runtime_env.runtime_env import _merge_runtime_env

    import training.pipeline

    captured = {}
    monkeypatch.setattr("ray.is_initialized", lambda: False)
    # A job's driver gets RAY_ADDRESS=<the node's GCS> from Ray: a "local" cluster for twin.core.ray_cluster.
    monkeypatch.setattr("twin.core.ray_cluster.resolve_address", lambda settings: ("local", "10.0.0.1:6379"))
    monkeypatch.setattr(
        "twin.core.ray_cluster.connect_or_start",
        lambda settings, runtime_env=None, **options: captured.setdefault("runtime_env", runtime_env),
    )
    training.pipeline.ensure_ray(SimpleNamespace())
    assert captured["runtime_env"]["env_vars"]
    job_env = yaml.safe_load(rayjob["spec"]["runtimeEnvYAML"])
    assert _merge_runtime_env(job_env, captured["runtime_env"]) is not None


def test_rayjob_entrypoint_is_training_job(rayjob, monkeypatch, capsys):
    argv = shlex.split(rayjob["spec"]["entrypoint"])
    assert argv[:3] == ["python", "-m", "training.job"]
    # the form `twin train` submits to a cluster's job server (twin/cli/train.py)
    assert 'entrypoint = f"python -m training.job --user-id {user_id}"' in (ROOT / "twin/cli/train.py").read_text()
    result = subprocess.run(
        [sys.executable, "-m", "training.job", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and "--user-id" in result.stdout, result.stderr

    import training.job
    import training.pipeline
    from training.config import DEFAULT_CONFIG

    calls = []

    def fine_tune(user_id, config, resume_model_id=None):
        calls.append((user_id, config, resume_model_id))
        return SimpleNamespace(model_id="m", status="active", adapter_uri="/data/twin/adapters/m", metrics={})

    monkeypatch.setattr(training.pipeline, "fine_tune", fine_tune)
    monkeypatch.setenv("RAY_AUTH_MODE", "token")  # what KubeRay's authOptions give the head, and its drivers
    assert training.job.main(argv[3:]) == 0
    assert calls == [(1, str(DEFAULT_CONFIG), None)]
    assert "active" in capsys.readouterr().out
    assert os.environ["RAY_AUTH_MODE"] == "token"  # training/job.py only defaults it when unset


def test_rayservice_serve_config_is_servings(rayservice):
    from ray.serve.schema import DeploymentSchema, HTTPOptionsSchema, ServeApplicationSchema, ServeDeploySchema

    from serving.config import DEFAULT_CONFIG_PATH, parse_args, read_config_file

    text = rayservice["spec"]["serveConfigV2"]
    config = yaml.safe_load(text)
    ServeDeploySchema.model_validate(config)  # what serving/deploy.py and KubeRay's PUT hand to Serve
    # Serve's schemas ignore unknown keys (forward compatibility): refuse them here.
    assert set(config) <= set(ServeDeploySchema.model_fields)
    assert set(config["http_options"]) <= set(HTTPOptionsSchema.model_fields)
    for app in config["applications"]:
        assert set(app) <= set(ServeApplicationSchema.model_fields), app.get("name")
        for deployment in app["deployments"]:
            assert set(deployment) <= set(DeploymentSchema.model_fields), deployment["name"]
        parse_args(app["args"])  # serving/config.py's ServingConfig

    expected = copy.deepcopy(read_config_file(DEFAULT_CONFIG_PATH))
    expected["http_options"].update(HTTP_DIFFERENCES)
    for app in expected["applications"]:
        for deployment in app["deployments"]:
            deployment.update(DEPLOYMENT_DIFFERENCES.get(deployment["name"], {}))
    assert config == expected  # serving/config.yaml, args included, but for the documented differences
    marked = [line for line in text.splitlines() if "# differs" in line]
    assert len(marked) == len(HTTP_DIFFERENCES) + sum(map(len, DEPLOYMENT_DIFFERENCES.values())), marked


def test_rayservice_cluster_is_the_rayclusters(rayservice, raycluster):
    cluster, reference = rayservice["spec"]["rayClusterConfig"], raycluster["spec"]
    # a RayService keeps a Service <name>-head-svc: the same name would take the RayCluster's
    assert rayservice["metadata"]["name"] != raycluster["metadata"]["name"]
    for key in ("rayVersion", "authOptions", "enableInTreeAutoscaling", "headGroupSpec"):
        assert cluster[key] == reference[key], key
    reference_cpu = next(group for group in reference["workerGroupSpecs"] if group["groupName"] == "cpu")
    assert cluster["workerGroupSpecs"] == [reference_cpu]
    config = yaml.safe_load(rayservice["spec"]["serveConfigV2"])
    head = cluster["headGroupSpec"]["template"]["spec"]["containers"][0]
    serve_port = next(port["containerPort"] for port in head["ports"] if port["name"] == "serve")
    assert config["http_options"]["port"] == serve_port
    # two Generator replicas, at most one per node, on workers only (the head has num-cpus 0)
    assert cluster["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"
    spread = DEPLOYMENT_DIFFERENCES["Generator"]
    assert reference_cpu["maxReplicas"] >= spread["num_replicas"] // spread["max_replicas_per_node"]


def test_readme(readme, raycluster, rayservice):
    for name in MANIFESTS:
        assert f"`{name}`" in readme, name
    assert "tests/docker/test_kuberay_manifests.py" in readme and "not applied to" in readme
    assert "kuberay/kuberay-operator" in readme
    assert f"kubectl create secret generic {SECRET} --from-env-file=" in readme
    assert f"ray://{raycluster['metadata']['name']}-head-svc.<ns>.svc:10001" in readme
    port = yaml.safe_load(rayservice["spec"]["serveConfigV2"])["http_options"]["port"]
    assert f"http://{rayservice['metadata']['name']}-serve-svc.<ns>.svc:{port}" in readme
    assert "TWIN_STORAGE_URI" in readme and "RAY_AUTH_TOKEN" in readme

    job = readme_migrate_job(readme)
    container = check_common_pod("README.md Job", job["spec"]["template"])
    assert container["image"] == "llm-twin:latest"
    compose_migrate = " ".join(yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"]["migrate"]["command"])
    assert " ".join(container["command"]) == compose_migrate  # what compose's migrate service runs
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_readme_secret_merge_keeps_composes_order(readme, tmp_path):
    """The README's awk merges docker/.env.example and docker/.env as compose does: the later file wins."""
    program = re.search(r"awk -F= '([^']+)'", readme).group(1)
    override = tmp_path / ".env"
    override.write_text("# a comment=x\nPOSTGRES_PASSWORD=changed=with=equals\n")
    merged = subprocess.run(
        ["awk", "-F=", program, str(DOCKER / ".env.example"), str(override)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.splitlines()
    values = dict(line.split("=", 1) for line in merged)
    assert len(values) == len(merged)  # each key once
    assert values["POSTGRES_PASSWORD"] == "changed=with=equals"
    assert values["TWIN_HOME"] == TWIN_HOME and "# a comment" not in values
