"""Kubernetes manifests validate against the Kubernetes schemas (offline, shipped by kubernetes-validate), the
compose files and the config files they mount are valid smarts3 settings, and the systemd unit is sound."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from smarts3.entrypoints.config import load_settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "kubernetes"
K8S_VERSION = "1.33.0"
MANIFESTS = ["secret.yaml", "configmap.yaml", "service.yaml", "statefulset.yaml"]


def kubernetes_validate(*files: Path) -> subprocess.CompletedProcess[str]:
    program = shutil.which("kubernetes-validate") or str(Path(sys.executable).parent / "kubernetes-validate")
    return subprocess.run([program, "--strict", "-k", K8S_VERSION, *map(str, files)], capture_output=True,
                          text=True, timeout=120)


def docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]


def test_kubernetes_manifests_validate_against_the_schemas() -> None:
    result = kubernetes_validate(*(K8S / m for m in MANIFESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("passed") == 5


def test_kubernetes_validation_rejects_a_typo(tmp_path: Path) -> None:
    broken = tmp_path / "statefulset.yaml"
    broken.write_text((K8S / "statefulset.yaml").read_text().replace("readinessProbe:", "readinesProbe:"))
    assert kubernetes_validate(broken).returncode != 0


def test_kustomization_lists_every_manifest() -> None:
    (kustomization,) = docs("kustomization.yaml")
    assert sorted(kustomization["resources"]) == sorted(MANIFESTS)


def test_statefulset_probes_storage_and_security() -> None:
    (sts,) = docs("statefulset.yaml")
    pod = sts["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/_health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/_ready"
    assert container["resources"]["requests"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert mounts["/data"] in [t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]]
    assert volumes[mounts["/etc/smarts3"]]["configMap"]["name"] == docs("configmap.yaml")[0]["metadata"]["name"]
    secret_refs = {e["valueFrom"]["secretKeyRef"]["key"] for e in container["env"] if "valueFrom" in e}
    assert secret_refs <= set(docs("secret.yaml")[0]["stringData"])
    # terminationGracePeriodSeconds leaves room for server.shutdownGrace
    config = docs("configmap.yaml")[0]["data"]["smarts3.toml"]
    assert "shutdownGrace = 20" in config and pod["terminationGracePeriodSeconds"] > 20


def test_configmap_and_secret_make_valid_settings(tmp_path: Path) -> None:
    (config_map,) = docs("configmap.yaml")
    (secret,) = docs("secret.yaml")
    (sts,) = docs("statefulset.yaml")
    (container,) = sts["spec"]["template"]["spec"]["containers"]
    config = tmp_path / "smarts3.toml"
    config.write_text(config_map["data"]["smarts3.toml"])
    env = {e["name"]: e.get("value") or secret["stringData"][e["valueFrom"]["secretKeyRef"]["key"]]
           for e in container["env"]}
    env["SMARTS3_CONFIG"] = str(config)
    settings = load_settings(None, env, {})
    assert settings.server.host == "0.0.0.0" and settings.storage.directory == "/data"
    assert [c.access_key_id for c in settings.auth.credentials] == ["CHANGE-ME-ACCESS-KEY"]


def _compose_env(*files: str) -> tuple[dict[str, str], list[str]]:
    env: dict[str, str] = {}
    volumes: list[str] = []
    for name in files:
        service = yaml.safe_load((ROOT / name).read_text())["services"]["smarts3"]
        env.update({k: str(v) for k, v in service.get("environment", {}).items()})
        volumes.extend(service.get("volumes", []))
    # ${VAR:?message}: what the user exports
    env = {k: ("compose-" + k.lower() if v.startswith("${") else v) for k, v in env.items()}
    return env, volumes


def _localise(env: dict[str, str], volumes: list[str], tmp_path: Path) -> dict[str, str]:
    """Map bind mounts onto local paths, as the container sees them."""
    out = dict(env)
    for volume in volumes:
        source, target = volume.split(":")[:2]
        if not source.startswith("./"):
            continue
        local = ROOT / source if (ROOT / source).exists() else tmp_path / source[2:]
        out = {k: v.replace(target, str(local)) for k, v in out.items()}
    return out


def test_compose_config_file_and_environment_are_valid_settings(tmp_path: Path) -> None:
    env, volumes = _compose_env("docker-compose.yml")
    assert any(v.startswith("smarts3-data:") for v in volumes)
    assert "smarts3-data" in yaml.safe_load((ROOT / "docker-compose.yml").read_text())["volumes"]
    settings = load_settings(None, _localise(env, volumes, tmp_path), {})
    assert settings.storage.directory == "/data" and settings.auth.credentials


def test_compose_tls_variant_serves_https_with_generated_certificates(tmp_path: Path) -> None:
    from smarts3.entrypoints.certs import generate_dev_certificates

    generate_dev_certificates(str(tmp_path / "certs"), [], 30, overwrite=False)
    env, volumes = _compose_env("docker-compose.yml", "docker-compose.tls.yml")
    settings = load_settings(None, _localise(env, volumes, tmp_path), {})
    assert settings.server.ssl.enabled
    assert Path(settings.server.ssl.cert).read_text().startswith("-----BEGIN CERTIFICATE")


def _unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(ROOT / "deploy" / "systemd" / "smarts3.service")
    return parser


def test_systemd_unit_starts_smarts3_serve_with_a_config_file_and_is_hardened() -> None:
    service = _unit()["Service"]
    exec_start = service["ExecStart"].split()
    assert Path(exec_start[0]).name == "smarts3" and exec_start[1:3] == ["serve", "--config"]
    assert exec_start[3].endswith(".toml")
    for key, value in {"ProtectSystem": "strict", "NoNewPrivileges": "yes", "PrivateTmp": "yes",
                       "ProtectHome": "yes", "CapabilityBoundingSet": "", "DynamicUser": "yes",
                       "KillSignal": "SIGTERM"}.items():
        assert service[key] == value, key
    assert "/var/lib/smarts3" in service["ReadWritePaths"]


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed on this machine (apt-get install systemd); "
                    "the unit's content is still checked by the test above")
    # the unit names /opt/smarts3/bin/smarts3; verify checks it is executable, so point it at this install
    smarts3 = shutil.which("smarts3") or str(Path(sys.executable).parent / "smarts3")
    unit = tmp_path / "smarts3.service"
    unit.write_text((ROOT / "deploy" / "systemd" / "smarts3.service").read_text()
                    .replace("/opt/smarts3/bin/smarts3", smarts3))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    # unknown or misspelt keys are only warnings (exit 0): any output is a failure
    assert result.returncode == 0 and result.stdout.strip() == "" and result.stderr.strip() == "", result.stderr
