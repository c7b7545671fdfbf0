"""Static checks of the deployment files: deploy/docker-compose.yml, deploy/Dockerfile, deploy/k8s/.

None of them can run on the build machine (no Docker engine, no Kubernetes cluster), so these
tests pin what can be known without running them: every file parses, the services and
resources that must be there are, the names that tie them together agree (ports, selectors,
volumes, secrets, scrape targets), and every SFERUM_* variable is a real setting whose value
``stream.settings.Settings`` accepts.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from stream.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"
K8S = DEPLOY / "k8s"
PROMETHEUS_YML = DEPLOY / "prometheus" / "prometheus.yml"
WORKERS = ("worker-1", "worker-2")
SETTING_NAMES = {f"SFERUM_{name.upper()}": name for name in Settings.model_fields}
DEFAULT_WEB_PORT = Settings.model_fields["web_port"].default


def load_all(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def compose() -> dict[str, Any]:
    (doc,) = load_all(COMPOSE)
    return doc  # type: ignore[no-any-return]


def interpolate(value: str) -> str:
    """Compose's ${VAR:-default} with nothing set: the default."""
    return re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\}", r"\1", value)


def k8s_docs() -> list[dict[str, Any]]:
    return [doc for path in sorted(K8S.glob("*.yaml")) for doc in load_all(path) if doc.get("kind") != "Kustomization"]


def k8s(kind: str) -> dict[str, Any]:
    (doc,) = [doc for doc in k8s_docs() if doc["kind"] == kind]
    return doc


def worker_container() -> dict[str, Any]:
    (container,) = k8s("StatefulSet")["spec"]["template"]["spec"]["containers"]
    return container  # type: ignore[no-any-return]


def settings_from_env(env: dict[str, str]) -> Settings:
    """Validate SFERUM_* values the way the worker reads them (only real settings are passed)."""
    values = {SETTING_NAMES[name]: value for name, value in env.items() if name in SETTING_NAMES}
    return Settings(**values)


# every file -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [COMPOSE, *sorted((DEPLOY / "prometheus").rglob("*.yml")), *sorted(K8S.glob("*.yaml"))],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_yaml_file_parses(path: Path) -> None:
    assert load_all(path), f"{path} has no YAML document"


@pytest.mark.parametrize(
    "path", [COMPOSE, DOCKERFILE, *sorted(K8S.glob("*.yaml"))], ids=lambda p: str(p.relative_to(ROOT))
)
def test_file_says_it_was_not_run_here(path: Path) -> None:
    assert re.search(r"NOT (RUN|BUILT) HERE", path.read_text(encoding="utf-8")), path


def sferum_env_names() -> dict[str, set[str]]:
    """Every SFERUM_* name the deployment files set, by file."""
    names: dict[str, set[str]] = {}
    for service in compose()["services"].values():
        names.setdefault("docker-compose.yml", set()).update(service.get("environment", {}))
    for doc in k8s_docs():
        if doc["kind"] == "ConfigMap":
            names.setdefault(f"k8s ConfigMap {doc['metadata']['name']}", set()).update(doc["data"])
        if doc["kind"] == "StatefulSet":
            for container in doc["spec"]["template"]["spec"]["containers"]:
                names.setdefault("k8s StatefulSet", set()).update(e["name"] for e in container.get("env", []))
    names["Dockerfile"] = set(re.findall(r"\b(SFERUM_[A-Z0-9_]+)=", DOCKERFILE.read_text(encoding="utf-8")))
    return {where: {n for n in found if n.startswith("SFERUM_")} for where, found in names.items()}


def test_every_sferum_variable_is_a_setting() -> None:
    unknown = {where: sorted(found - set(SETTING_NAMES)) for where, found in sferum_env_names().items()}
    unknown = {where: names for where, names in unknown.items() if names}
    assert not unknown, f"not fields of stream.settings.Settings (the worker would ignore them): {unknown}"


# docker compose -------------------------------------------------------------------------------


def test_compose_runs_the_whole_stack() -> None:
    services = compose()["services"]
    assert {"kafka", "clickhouse", *WORKERS, "prometheus", "grafana"} <= set(services)
    assert services["kafka"]["image"] == "apache/kafka:4.2.0"
    assert services["clickhouse"]["image"].startswith("clickhouse/clickhouse-server:26.")
    assert services["grafana"]["image"].startswith("grafana/grafana:11.6.")
    assert "grafana-clickhouse-datasource" in services["grafana"]["environment"]["GF_INSTALL_PLUGINS"]


def test_compose_kafka_is_a_single_kraft_node_the_workers_can_reach() -> None:
    services = compose()["services"]
    env = services["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    # A Kafka cluster id is a UUID in 22 characters of URL-safe base64.
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", env["CLUSTER_ID"])
    advertised = dict(
        (name, urlparse(f"kafka://{rest}").netloc)
        for name, rest in (item.split("://") for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    )
    for worker in WORKERS:
        broker = urlparse(services[worker]["environment"]["SFERUM_BROKER"]).netloc
        assert broker == advertised[env["KAFKA_INTER_BROKER_LISTENER_NAME"]]


@pytest.mark.parametrize("worker", WORKERS)
def test_compose_worker_settings_are_valid(worker: str) -> None:
    service = compose()["services"][worker]
    env = {name: interpolate(str(value)) for name, value in service["environment"].items()}
    settings = settings_from_env(env)
    store = urlparse(settings.store_dsn)
    assert store.scheme == "http" and store.hostname == "clickhouse" and store.port == 8123
    # the least-privilege account that deploy/clickhouse/initdb makes, its password apart from the DSN
    clickhouse_env = compose()["services"]["clickhouse"]["environment"]
    assert store.password is None and settings.store_user == "sferum_worker"
    assert settings.store_password.get_secret_value() == interpolate(clickhouse_env["WORKER_CLICKHOUSE_PASSWORD"])
    assert settings.broker == "kafka://kafka:9092"
    assert settings.web_enabled
    assert service["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (COMPOSE.parent / service["build"]["context"] / service["build"]["dockerfile"]).resolve() == DOCKERFILE
    for dependency in ("kafka", "clickhouse"):
        assert service["depends_on"][dependency]["condition"] == "service_healthy"


def test_compose_workers_keep_their_state_on_separate_volumes() -> None:
    services = compose()["services"]
    declared = set(compose()["volumes"])
    state = []
    for worker in WORKERS:
        data_dir = services[worker]["environment"]["SFERUM_DATA_DIR"]
        mounts = dict(reversed(volume.split(":")[:2]) for volume in services[worker]["volumes"])
        assert data_dir in mounts, f"{worker}: nothing mounted at SFERUM_DATA_DIR {data_dir}"
        assert mounts[data_dir] in declared
        state.append(mounts[data_dir])
    assert len(set(state)) == len(WORKERS), "two workers must never share a RocksDB directory"


def test_compose_bind_mounts_exist() -> None:
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (COMPOSE.parent / source).exists(), f"{name} mounts {source}, which does not exist"


def test_compose_prometheus_scrapes_both_workers_with_the_mounted_config() -> None:
    services = compose()["services"]
    prometheus = services["prometheus"]
    assert "./prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    (job,) = [job for job in load_all(PROMETHEUS_YML)[0]["scrape_configs"] if job["job_name"] == "sferum-kpi-worker"]
    targets = {target for group in job["static_configs"] for target in group["targets"]}
    ports = {worker: services[worker]["environment"].get("SFERUM_WEB_PORT", DEFAULT_WEB_PORT) for worker in WORKERS}
    assert targets == {f"{worker}:{port}" for worker, port in ports.items()}


def commented_kubernetes_scrape_job() -> dict[str, Any]:
    """The kubernetes_sd job that prometheus.yml carries as a comment, uncommented."""
    lines = PROMETHEUS_YML.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("  # - job_name: sferum-kpi-worker"))
    block = []
    for line in lines[start:]:
        if not line.startswith("  #"):
            break
        block.append("  " + line[4:] if line.startswith("  # ") else "")
    (job,) = yaml.safe_load("\n".join(block))
    return job  # type: ignore[no-any-return]


def test_commented_kubernetes_scrape_job_finds_the_k8s_service() -> None:
    """Debian's promtool is built without Kubernetes discovery, so the example is checked here:
    its keep rule must select the Service and port name of deploy/k8s/service.yaml."""
    job = commented_kubernetes_scrape_job()
    assert job["job_name"] == "sferum-kpi-worker"
    (sd,) = job["kubernetes_sd_configs"]
    assert sd["role"] == "endpoints"
    assert sd["namespaces"]["names"] == [k8s("Namespace")["metadata"]["name"]]
    service = k8s("Service")
    (port,) = service["spec"]["ports"]
    keep = [rule for rule in job["relabel_configs"] if rule.get("action") == "keep"]
    (rule,) = keep
    assert rule["source_labels"] == ["__meta_kubernetes_service_name", "__meta_kubernetes_endpoint_port_name"]
    assert re.fullmatch(rule["regex"], f"{service['metadata']['name']};{port['name']}")
    # Targets are named after their pods, stable across restarts in a StatefulSet.
    assert {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "instance"} in job["relabel_configs"]


def test_prometheus_rule_files_exist() -> None:
    config = load_all(PROMETHEUS_YML)[0]
    assert config["rule_files"]
    for pattern in config["rule_files"]:
        assert list(PROMETHEUS_YML.parent.glob(pattern)), f"prometheus.yml loads {pattern}: no such file"


# Dockerfile -----------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def test_dockerfile_installs_the_project_and_runs_the_worker() -> None:
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    (entrypoint,) = [yaml.safe_load(arg) for op, arg in instructions if op == "ENTRYPOINT"]
    assert entrypoint[0] == "sferum-kpi" and entrypoint[-1] == "worker"
    assert ("EXPOSE", str(DEFAULT_WEB_PORT)) in instructions
    # Dependencies from the hashed lock only, then the project without dependencies.
    runs = [arg for op, arg in instructions if op == "RUN" and "pip install" in arg]
    assert any("--require-hashes" in arg and "-r requirements.lock" in arg for arg in runs)
    assert any("--no-deps" in arg and arg.rstrip().split("&&")[0].rstrip().endswith(" .") for arg in runs)
    assert all("--require-hashes" in arg or "--no-deps" in arg for arg in runs), runs
    # Every package pyproject.toml builds (and the files it reads) is copied into the image.
    copied = {arg.split()[0] for op, arg in instructions if op == "COPY"}
    copied |= {name for op, arg in instructions if op == "COPY" for name in arg.split()[:-1]}
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {pattern.rstrip("*") for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages | {"pyproject.toml", pyproject["project"]["readme"]} <= copied
    for name in copied:
        assert (ROOT / name).exists(), name


# Kubernetes -----------------------------------------------------------------------------------

API_VERSIONS = {
    "Namespace": "v1",
    "ConfigMap": "v1",
    "Secret": "v1",
    "Service": "v1",
    "StatefulSet": "apps/v1",
    "PodDisruptionBudget": "policy/v1",
    "ScaledObject": "keda.sh/v1alpha1",
}


def test_k8s_manifests_have_the_expected_kinds_and_required_fields() -> None:
    docs = k8s_docs()
    assert sorted(doc["kind"] for doc in docs) == sorted(API_VERSIONS)
    for doc in docs:
        assert doc["apiVersion"] == API_VERSIONS[doc["kind"]], doc["kind"]
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", doc["metadata"]["name"]), doc["metadata"]
        assert "namespace" not in doc["metadata"], "the namespace comes from kustomization.yaml"


def test_kustomization_lists_every_manifest() -> None:
    (kustomization,) = load_all(K8S / "kustomization.yaml")
    assert kustomization["kind"] == "Kustomization"
    assert kustomization["namespace"] == k8s("Namespace")["metadata"]["name"]
    listed = set(kustomization["resources"])
    present = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present
    assert worker_container()["image"] in {image["name"] for image in kustomization["images"]}


def test_k8s_workers_are_a_statefulset_with_a_volume_per_worker() -> None:
    statefulset = k8s("StatefulSet")
    spec = statefulset["spec"]
    template = spec["template"]
    config = k8s("ConfigMap")["data"]
    assert spec["selector"]["matchLabels"].items() <= template["metadata"]["labels"].items()
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"]
    mounts = {mount["name"]: mount["mountPath"] for mount in worker_container()["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == config["SFERUM_DATA_DIR"]
    declared = {volume["name"] for volume in template["spec"].get("volumes", [])} | {claim["metadata"]["name"]}
    assert set(mounts) <= declared
    # The ScaledObject sets the replicas (test_k8s_autoscaling_on_lag_stays_within_the_partitions)
    assert "replicas" not in spec
    # The image's user (deploy/Dockerfile) is the pod's; fsGroup makes the volume writable.
    security = template["spec"]["securityContext"]
    assert security["runAsNonRoot"] is True
    assert f"--uid {security['runAsUser']}" in DOCKERFILE.read_text(encoding="utf-8")
    assert security["fsGroup"] == security["runAsGroup"]


def test_k8s_worker_container_has_resources_probes_and_its_config() -> None:
    container = worker_container()
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind]), kind
    (port,) = container["ports"]
    assert port["name"] == "metrics"
    assert str(port["containerPort"]) == k8s("ConfigMap")["data"]["SFERUM_WEB_PORT"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["port"] == "metrics", probe
        assert container[probe]["httpGet"]["path"].startswith("/"), probe
    (config_ref,) = container["envFrom"]
    assert config_ref["configMapRef"]["name"] == k8s("ConfigMap")["metadata"]["name"]
    (store,) = [env for env in container["env"] if env["name"] == "SFERUM_STORE"]
    secret = k8s("Secret")
    assert store["valueFrom"]["secretKeyRef"]["name"] == secret["metadata"]["name"]
    assert store["valueFrom"]["secretKeyRef"]["key"] in secret["stringData"]


def test_k8s_settings_are_strings_the_worker_accepts() -> None:
    config = k8s("ConfigMap")["data"]
    assert all(isinstance(value, str) for value in config.values()), "ConfigMap values must be strings"
    (store,) = k8s("Secret")["stringData"].values()
    settings = settings_from_env(config | {"SFERUM_STORE": store})
    assert urlparse(settings.store_dsn).scheme in ("http", "https")


def test_k8s_service_and_disruption_budget_select_the_workers() -> None:
    labels = k8s("StatefulSet")["spec"]["template"]["metadata"]["labels"]
    service = k8s("Service")
    assert service["spec"]["clusterIP"] == "None", "headless: one scrape target per pod"
    assert k8s("StatefulSet")["spec"]["serviceName"] == service["metadata"]["name"]
    assert service["spec"]["selector"].items() <= labels.items()
    (port,) = service["spec"]["ports"]
    assert port["name"] == "metrics" and port["targetPort"] == "metrics"
    assert str(port["port"]) == k8s("ConfigMap")["data"]["SFERUM_WEB_PORT"]
    budget = k8s("PodDisruptionBudget")["spec"]
    assert budget["selector"]["matchLabels"].items() <= labels.items()
    assert budget["maxUnavailable"] == 1


def test_k8s_workers_are_static_members_named_after_their_pods() -> None:
    (instance,) = [env for env in worker_container()["env"] if env["name"] == "SFERUM_INSTANCE_ID"]
    assert instance["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert k8s("StatefulSet")["spec"]["podManagementPolicy"] == "Parallel"


def test_k8s_a_stopping_worker_has_time_to_finish_and_comes_back_within_its_session() -> None:
    """SIGTERM: a last checkpoint (bounded), the consumer closed (a static member stays in the
    group), a last refresh (bounded). The grace period covers both bounds; the session timeout
    outlasts what follows the consumer's close, so a restarted pod finds its partitions."""
    from stream.kafka.runner import REVOKE_CHECKPOINT_S
    from stream.worker.app import STOP_REFRESH_S

    grace = k8s("StatefulSet")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace >= REVOKE_CHECKPOINT_S + STOP_REFRESH_S + 10
    session = float(k8s("ConfigMap")["data"]["SFERUM_SESSION_TIMEOUT_S"])
    assert session >= (grace - REVOKE_CHECKPOINT_S) + 30, "the rest of the stop, then ~30 s to start and join"


def test_k8s_autoscaling_on_lag_stays_within_the_partitions() -> None:
    scaled = k8s("ScaledObject")["spec"]
    statefulset = k8s("StatefulSet")
    config = k8s("ConfigMap")["data"]
    assert scaled["scaleTargetRef"] == {
        "apiVersion": statefulset["apiVersion"],
        "kind": "StatefulSet",
        "name": statefulset["metadata"]["name"],
    }
    assert 1 <= scaled["minReplicaCount"] <= scaled["maxReplicaCount"] <= int(config["SFERUM_PARTITIONS"])
    (trigger,) = scaled["triggers"]
    assert trigger["type"] == "kafka"
    meta = trigger["metadata"]
    assert all(isinstance(value, str) for value in meta.values()), "KEDA's trigger metadata are strings"
    assert meta["bootstrapServers"] == urlparse(config["SFERUM_BROKER"]).netloc
    assert meta["consumerGroup"] == config["SFERUM_APP_ID"]
    assert "topic" not in meta, "the lag of every input topic the group commits"
    assert int(meta["lagThreshold"]) > 0
    assert meta["allowIdleConsumers"] == "false"
    down = scaled["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]
    assert down["stabilizationWindowSeconds"] >= float(config["SFERUM_SESSION_TIMEOUT_S"])
