"""Checks on the deployment files and scripts, as far as the tools on a developer machine go.

No database, no Docker engine, no Kubernetes cluster: these read deploy/, scripts/ and .ci/run
and compare them with what the application really has (the `zhtj` CLI's subcommands and the
environment variables core.settings.Settings reads). Building the image and starting the stack
are not tested here.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"

# The roles the deployment runs; each must be a real `zhtj` subcommand.
ROLES = {"migrate", "worker", "api"}
# Kubernetes kinds that live outside any namespace.
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass"}
NAMESPACE = "zhtj"


# ---------------------------------------------------------------- helpers


def yaml_files() -> list[Path]:
    files = sorted(p for p in DEPLOY.rglob("*") if p.suffix in {".yaml", ".yml"})
    assert files, "no YAML files under deploy/"
    return files


def load_all(path: Path) -> list[Any]:
    with path.open(encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


@lru_cache(maxsize=1)
def settings_env_names() -> frozenset[str]:
    """Environment variable names Settings reads (aliases; env_prefix is empty)."""
    names = set()
    prefix = Settings.model_config.get("env_prefix", "") or ""
    for name, field in Settings.model_fields.items():
        names.add(field.alias if field.alias else (prefix + name).upper())
    return frozenset(names)


@lru_cache(maxsize=1)
def cli_commands() -> frozenset[str]:
    """Subcommand names of the `zhtj` console script (pyproject: zhtj = "cli:main")."""
    import importlib

    import typer

    cli = importlib.import_module("cli")
    # The root app is conventionally `app`; otherwise take the command group with the most
    # subcommands (cli.py also holds the sub-apps it mounts, e.g. `zhtj users ...`).
    candidates = [cli.__dict__["app"]] if "app" in cli.__dict__ else list(vars(cli).values())
    groups: list[dict[str, Any]] = []
    for value in candidates:
        if isinstance(value, typer.Typer):
            value = typer.main.get_command(value)
        # Duck-typed: recent typer vendors its own click, whose groups are no click.Group.
        commands = getattr(value, "commands", None)
        if isinstance(commands, dict) and commands:
            groups.append(commands)
    assert groups, "cli.py defines no typer.Typer or click group with subcommands"
    return frozenset(max(groups, key=len))


_VAR = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def compose_interpolate(value: Any) -> Any:
    """${VAR:-default} / ${VAR-default} -> default, ${VAR} -> "" (what compose does with VAR unset)."""
    if isinstance(value, str):
        return _VAR.sub(lambda m: m.group(2) or "", value)
    return value


def compose() -> dict[str, Any]:
    (doc,) = load_all(COMPOSE)
    return doc


def compose_env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # ["KEY=value", ...] form
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: str(compose_interpolate(v)) for k, v in env.items()}


def uses_app_image(service: dict[str, Any]) -> bool:
    build = service.get("build")
    dockerfile = build.get("dockerfile", "") if isinstance(build, dict) else ""
    return dockerfile.endswith("deploy/Dockerfile") or "zhtj-transfer" in str(service.get("image", ""))


def app_services() -> dict[str, dict[str, Any]]:
    services = {name: s for name, s in compose()["services"].items() if uses_app_image(s)}
    assert services, "compose.yaml runs no service from the zhtj-transfer image"
    return services


def k8s_docs() -> list[tuple[Path, dict[str, Any]]]:
    docs = [(p, d) for p in sorted(K8S.glob("*.y*ml")) for d in load_all(p)]
    assert docs, "no manifests under deploy/k8s"
    return docs


def pod_specs() -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(object name, object, pod template) for every workload in deploy/k8s."""
    for _, doc in k8s_docs():
        if doc["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
            yield doc["metadata"]["name"], doc, doc["spec"]["template"]
        elif doc["kind"] == "CronJob":
            yield doc["metadata"]["name"], doc, doc["spec"]["jobTemplate"]["spec"]["template"]


def check_settings_accept(env: dict[str, str], where: str) -> None:
    """Every name is a Settings variable, and Settings accepts the values."""
    unknown = sorted(set(env) - settings_env_names())
    assert not unknown, f"{where}: environment variables the app does not read: {unknown}"
    try:
        Settings(_env_file=None, **env)
    except Exception as e:
        pytest.fail(f"{where}: core.settings.Settings rejects these values: {e}")


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    lines: list[tuple[str, str]] = []
    current = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        if current.strip():
            word, _, rest = current.strip().partition(" ")
            lines.append((word.upper(), rest.strip()))
        current = ""
    return lines


def exec_form(arguments: str) -> list[str]:
    """JSON (exec) form if it is one, else the shell words."""
    import json

    if arguments.startswith("["):
        return json.loads(arguments)
    return shlex.split(arguments)


# ---------------------------------------------------------------- YAML and the CLI


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_yaml_parses(path: Path) -> None:
    docs = load_all(path)
    assert docs, f"{path} holds no YAML document"
    for doc in docs:
        assert isinstance(doc, dict), f"{path}: a document is a {type(doc).__name__}, not a mapping"


def test_cli_has_the_deployment_roles() -> None:
    missing = ROLES - cli_commands()
    assert not missing, f"`zhtj` lacks subcommands the deployment runs: {sorted(missing)}"


# ---------------------------------------------------------------- compose


def test_compose_app_services_run_real_cli_commands() -> None:
    services = app_services()
    roles = {}
    for name, service in services.items():
        command = service.get("command")
        assert command, f"compose service {name} sets no command (the image default is `api`; say it)"
        words = command if isinstance(command, list) else shlex.split(command)
        assert words[0] in cli_commands(), f"compose service {name} runs `zhtj {words[0]}`, which the CLI lacks"
        roles[name] = words[0]
    assert set(roles.values()) >= ROLES, f"compose does not run every role {sorted(ROLES)}: {roles}"


def test_compose_environment_is_known_to_settings() -> None:
    for name, service in app_services().items():
        env = compose_env(service)
        assert env, f"compose service {name} has no environment"
        check_settings_accept(env, f"compose service {name}")
        assert env["DATABASE_URL"].startswith("postgresql"), f"{name}: DATABASE_URL is not PostgreSQL"
        db_host = re.search(r"@([^:/]+)", env["DATABASE_URL"])
        assert db_host and db_host.group(1) in compose()["services"], f"{name}: DATABASE_URL host is no service"
        temporal_host = env["TEMPORAL_ADDRESS"].split(":")[0]
        assert temporal_host in compose()["services"], f"{name}: TEMPORAL_ADDRESS host is no service"


def test_compose_order_and_health() -> None:
    services = compose()["services"]
    app = app_services()
    by_role = {}
    for name, service in app.items():
        command = service["command"]
        by_role[(command if isinstance(command, list) else shlex.split(command))[0]] = name

    migrate = app[by_role["migrate"]]
    assert migrate.get("restart", "no") == "no", "the migrate one-shot must not restart"

    for role in ("worker", "api"):
        deps = app[by_role[role]].get("depends_on")
        assert isinstance(deps, dict), f"{role}: depends_on must use conditions"
        assert deps.get(by_role["migrate"], {}).get("condition") == "service_completed_successfully", (
            f"{role} must wait for migrate to complete"
        )
        temporal = [d for d, c in deps.items() if c.get("condition") == "service_healthy" and "temporal" in d]
        assert temporal, f"{role} must wait for a healthy temporal service"
        for dep in deps:
            assert dep in services, f"{role} depends on unknown service {dep}"
        for dep, cond in deps.items():
            if cond.get("condition") == "service_healthy":
                hc = services[dep].get("healthcheck", {})
                assert hc.get("test") and not hc.get("disable"), (
                    f"{role} waits for {dep} to be healthy, but it has no healthcheck"
                )

    api = app[by_role["api"]]
    assert compose_env(api).get("ZHTJ_HTTP_HOST") == "0.0.0.0", "the API must bind 0.0.0.0 in a container"
    assert "/healthz" in " ".join(api["healthcheck"]["test"]), "the api healthcheck must call /healthz"
    assert any(str(p).endswith(":8000") for p in api.get("ports", [])), "the api must publish port 8000"

    pg = [s for s in services.values() if str(s.get("image", "")).startswith("postgres:15")]
    assert pg and pg[0].get("volumes") and pg[0].get("healthcheck"), "PostgreSQL 15 with a volume and a healthcheck"
    temporal = [s for s in services.values() if "temporalio/auto-setup" in str(s.get("image", ""))]
    assert temporal and compose_env(temporal[0]).get("DB") == "postgres12", "Temporal auto-setup on postgres12"


def test_docker_compose_config() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("docker client not installed")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("the docker compose plugin is not installed (`docker compose version` failed)")
    env = {k: v for k, v in os.environ.items() if k != "POSTGRES_PASSWORD"}
    result = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "config", "--quiet"],
        cwd=DEPLOY,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, f"docker compose config failed:\n{result.stderr}"


# ---------------------------------------------------------------- Kubernetes


def test_k8s_objects_are_well_formed() -> None:
    seen = set()
    for path, doc in k8s_docs():
        where = f"{path.name}: {doc.get('kind')} {doc.get('metadata', {}).get('name')}"
        assert doc.get("apiVersion"), f"{where}: no apiVersion"
        assert doc.get("kind"), f"{where}: no kind"
        assert doc.get("metadata", {}).get("name"), f"{where}: no metadata.name"
        if doc["kind"] not in CLUSTER_SCOPED:
            assert doc["metadata"].get("namespace") == NAMESPACE, f"{where}: namespace must be {NAMESPACE}"
        key = (doc["kind"], doc["metadata"]["name"])
        assert key not in seen, f"{where}: defined twice"
        seen.add(key)
    kinds = {k for k, _ in seen}
    assert {"Namespace", "ConfigMap", "Secret", "Job", "Deployment", "Service"} <= kinds


def test_k8s_workloads_run_real_cli_commands() -> None:
    roles = {}
    for name, _, template in pod_specs():
        for container in template["spec"]["containers"]:
            words = list(container.get("command", [])) + list(container.get("args", []))
            if words and words[0] == "zhtj":
                words = words[1:]
            assert words, f"{name}/{container['name']}: no args (say which role)"
            assert words[0] in cli_commands(), f"{name} runs `zhtj {words[0]}`, which the CLI lacks"
            roles[name] = words[0]
    assert set(roles.values()) >= ROLES, f"k8s does not run every role: {roles}"
    workers = [n for n, _, _ in pod_specs() if roles.get(n) == "worker"]
    deployments = {d["metadata"]["name"]: d for _, d in k8s_docs() if d["kind"] == "Deployment"}
    assert any(deployments.get(w, {}).get("spec", {}).get("replicas") == 2 for w in workers), "worker: 2 replicas"
    assert any(d["kind"] == "Job" and roles.get(d["metadata"]["name"]) == "migrate" for _, d in k8s_docs())


def test_k8s_environment_is_known_to_settings() -> None:
    objects = {(d["kind"], d["metadata"]["name"]): d for _, d in k8s_docs()}
    env: dict[str, str] = {}
    for (kind, name), doc in objects.items():
        if kind == "ConfigMap":
            env.update({k: str(v) for k, v in (doc.get("data") or {}).items()})
        elif kind == "Secret":
            assert not doc.get("data"), f"Secret {name}: use stringData placeholders, never encoded values"
            values = doc.get("stringData") or {}
            for key, value in values.items():
                assert "REPLACE_ME" in str(value), f"Secret {name}.{key} must hold a REPLACE_ME placeholder"
            env.update({k: str(v) for k, v in values.items()})
    check_settings_accept(env, "deploy/k8s ConfigMap + Secret")
    assert env.get("ZHTJ_HTTP_HOST") == "0.0.0.0", "the API must bind 0.0.0.0 in a pod"

    for name, _, template in pod_specs():
        for container in template["spec"]["containers"]:
            where = f"{name}/{container['name']}"
            explicit = {e["name"]: str(e.get("value", "")) for e in container.get("env", [])}
            unknown = sorted(set(explicit) - settings_env_names())
            assert not unknown, f"{where}: environment variables the app does not read: {unknown}"
            refs = container.get("envFrom", [])
            assert refs, f"{where}: no envFrom (ConfigMap and Secret)"
            for ref in refs:
                if "configMapRef" in ref:
                    assert ("ConfigMap", ref["configMapRef"]["name"]) in objects, f"{where}: unknown ConfigMap"
                if "secretRef" in ref:
                    assert ("Secret", ref["secretRef"]["name"]) in objects, f"{where}: unknown Secret"


def test_k8s_selectors_probes_and_service() -> None:
    deployments = [d for _, d in k8s_docs() if d["kind"] == "Deployment"]
    for dep in deployments:
        selector = dep["spec"]["selector"]["matchLabels"]
        labels = dep["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), f"{dep['metadata']['name']}: selector does not match pod labels"

    api = [
        d
        for d in deployments
        if any(c.get("args", [None])[0] == "api" for c in d["spec"]["template"]["spec"]["containers"])
    ]
    assert len(api) == 1, "exactly one Deployment runs `zhtj api`"
    (container,) = api[0]["spec"]["template"]["spec"]["containers"]
    port_names = {p.get("name") for p in container.get("ports", [])}
    port_numbers = {p["containerPort"] for p in container.get("ports", [])}
    assert 8000 in port_numbers
    for probe in ("readinessProbe", "livenessProbe"):
        http = container.get(probe, {}).get("httpGet")
        assert http and http["path"] == "/healthz", f"api {probe} must GET /healthz"
        assert http["port"] in port_names | port_numbers, f"api {probe} port is not a container port"

    services = [d for _, d in k8s_docs() if d["kind"] == "Service"]
    pod_labels = api[0]["spec"]["template"]["metadata"]["labels"]
    matching = [s for s in services if s["spec"]["selector"].items() <= pod_labels.items()]
    assert matching, "no Service selects the api pods"
    for port in matching[0]["spec"]["ports"]:
        assert port["targetPort"] in port_names | port_numbers, "Service targetPort is not an api container port"
    for svc in services:
        assert any(
            svc["spec"]["selector"].items() <= d["spec"]["template"]["metadata"]["labels"].items() for d in deployments
        ), f"Service {svc['metadata']['name']} selects no pods"


def test_k8s_schema_strict() -> None:
    """Full OpenAPI-schema check (types, required and unknown fields) when kubernetes-validate is there."""
    kv = pytest.importorskip(
        "kubernetes_validate", reason="kubernetes-validate not installed (pip install kubernetes-validate)"
    )
    version = kv.latest_version()
    for path, doc in k8s_docs():
        try:
            kv.validate(doc, version, strict=True)
        except kv.ValidationError as e:
            pytest.fail(f"{path.name}: {doc['kind']} {doc['metadata']['name']}: {e.message} at {list(e.path)}")


def test_k8s_pods_run_unprivileged() -> None:
    for name, _, template in pod_specs():
        pod_sc = template["spec"].get("securityContext", {})
        for container in template["spec"]["containers"]:
            sc = {**pod_sc, **container.get("securityContext", {})}
            assert sc.get("runAsNonRoot") is True, f"{name}: runAsNonRoot"
            assert sc.get("allowPrivilegeEscalation") is False, f"{name}: allowPrivilegeEscalation"


# ---------------------------------------------------------------- Dockerfile


def test_dockerfile_runs_zhtj_unprivileged() -> None:
    instructions = dockerfile_instructions()
    froms = [args for word, args in instructions if word == "FROM"]
    assert froms and froms[-1].split()[0].startswith("python:3.11-slim"), "final stage must be python:3.11-slim"
    final = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    stage = instructions[final:]

    entrypoint = [exec_form(a) for w, a in stage if w == "ENTRYPOINT"]
    cmd = [exec_form(a) for w, a in stage if w == "CMD"]
    assert entrypoint and entrypoint[-1] == ["zhtj"], 'ENTRYPOINT must be ["zhtj"]'
    assert cmd and cmd[-1] and cmd[-1][0] in cli_commands(), "CMD must be a `zhtj` subcommand"

    users = [a for w, a in stage if w == "USER"]
    assert users, "the image must not run as root (no USER)"
    assert users[-1].split(":")[0] not in {"root", "0"}, "the image must not run as root"

    health = [a for w, a in stage if w == "HEALTHCHECK"]
    assert health and "/healthz" in health[-1] and "8000" in health[-1], "HEALTHCHECK must call :8000/healthz"


def test_dockerfile_env_is_known_to_settings() -> None:
    env: dict[str, str] = {}
    for word, args in dockerfile_instructions():
        if word != "ENV":
            continue
        words = shlex.split(args)
        if words and "=" not in words[0]:  # legacy `ENV KEY value`
            env[words[0]] = " ".join(words[1:])
            continue
        for item in words:
            key, _, value = item.partition("=")
            env[key] = value
    app_env = {k: v for k, v in env.items() if not k.startswith(("PYTHON", "PIP_"))}
    check_settings_accept(app_env, "deploy/Dockerfile ENV")
    assert app_env.get("ZHTJ_HTTP_HOST") == "0.0.0.0", "the image must make the API bind 0.0.0.0"


def test_dockerignore_keeps_local_state_out() -> None:
    ignore = DEPLOY / "Dockerfile.dockerignore"
    assert ignore.exists(), "deploy/Dockerfile.dockerignore is missing"
    patterns = {line.strip() for line in ignore.read_text().splitlines() if line.strip() and not line.startswith("#")}
    assert {".venv", ".git", ".zhtj"} <= patterns


# ---------------------------------------------------------------- scripts


def shell_scripts() -> list[Path]:
    return sorted((ROOT / "scripts").glob("*.sh")) + [ROOT / ".ci" / "run"]


@pytest.mark.parametrize("path", shell_scripts(), ids=lambda p: str(p.relative_to(ROOT)))
def test_shell_scripts_parse(path: Path) -> None:
    assert path.exists(), f"{path} is missing"
    result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, f"bash -n {path.name}:\n{result.stderr}"


def test_makefile_targets() -> None:
    if shutil.which("make") is None:
        pytest.skip("make not installed")
    text = (ROOT / "Makefile").read_text()
    phony = set(re.search(r"^\.PHONY:(.*)$", text, re.M).group(1).split())
    assert {"dev", "test", "clean"} <= phony
    result = subprocess.run(["make", "-n", "dev", "test", "clean"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "scripts/test.sh" in result.stdout and ".venv/bin/zhtj dev" in result.stdout
    assert ".venv" not in "".join(line for line in result.stdout.splitlines() if line.startswith("rm "))
