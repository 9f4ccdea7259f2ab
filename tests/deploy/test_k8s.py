"""Past one machine: the Dockerfile and the Kubernetes manifests, checked offline.

No cluster and no image build can run here (no container registry is reachable
for base images), so: every manifest is validated against the Kubernetes API
schemas that kubernetes-validate bundles (strict: unknown fields fail), the
validator is shown to reject a broken copy, and the properties the lecture
needs are asserted (probes, one thread, cookie secret from a Secret, memory
sized from the measured peak, cookie affinity, no scale-down). The Dockerfile
is parsed and checked the same way.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
K8S_VERSION = "1.33"  # an API version current clusters serve; the schemas ship with the validator
MEASURED_PEAK_MIB = 600  # benchmarks/memory.py: peak RSS per process (DESIGN.md budget)


def manifests() -> dict[str, dict]:
    docs = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            docs[doc["kind"]] = doc
    return docs


def mebibytes(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "M": 1e6 / 2**20, "G": 1e9 / 2**20}
    number, unit = re.fullmatch(r"([\d.]+)([A-Za-z]*)", quantity).groups()
    return float(number) * units.get(unit, 1 / 2**20)


@pytest.mark.parametrize("path", sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml"))
def test_manifest_valid_against_bundled_schema(path):
    for doc in yaml.safe_load_all((K8S / path).read_text()):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_validator_rejects_a_broken_manifest():
    broken = copy.deepcopy(manifests()["Deployment"])
    broken["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["timeoutSeconds"] = "ten"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)
    typo = copy.deepcopy(manifests()["Service"])
    typo["spec"]["sessionAfinity"] = "ClientIP"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(typo, K8S_VERSION, strict=True)


def test_kustomization_lists_every_manifest():
    kust = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kust["resources"]) == on_disk


def test_deployment_probes_threads_secret_and_memory():
    m = manifests()
    dep = m["Deployment"]
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        p = c[probe]
        assert p["httpGet"]["path"] == "/_stcore/health"
        assert p["timeoutSeconds"] >= 5, f"{probe}: the health endpoint shares the busy process"
    live = c["livenessProbe"]
    assert live["periodSeconds"] * live["failureThreshold"] >= 60, "a busy pod is not killed within a minute"
    env = {e["name"]: e for e in c["env"]}
    assert env["OMP_NUM_THREADS"]["value"] == "1"
    secret = env["STREAMLIT_SERVER_COOKIE_SECRET"]["valueFrom"]["secretKeyRef"]
    assert secret["name"] and secret["key"], "the cookie secret comes from a Secret, shared by all replicas"
    requests, limits = c["resources"]["requests"], c["resources"]["limits"]
    assert mebibytes(requests["memory"]) >= MEASURED_PEAK_MIB
    assert mebibytes(limits["memory"]) >= 1.3 * MEASURED_PEAK_MIB, "headroom over the measured peak"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_cookie_affinity_and_no_scale_down_during_a_lecture():
    m = manifests()
    labels = m["Deployment"]["spec"]["template"]["metadata"]["labels"]
    svc, ing, pdb, hpa = m["Service"], m["Ingress"], m["PodDisruptionBudget"], m["HorizontalPodAutoscaler"]
    assert svc["spec"]["selector"].items() <= labels.items()
    assert svc["metadata"]["annotations"]["traefik.ingress.kubernetes.io/service.sticky.cookie"] == "true"
    assert "sessionAffinity" not in svc["spec"], "stickiness by cookie at the ingress, not by client IP"
    assert ing["spec"]["ingressClassName"] == "traefik", "ingress-nginx is retired"
    backend = ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == svc["metadata"]["name"]
    assert backend["port"]["name"] in {p["name"] for p in svc["spec"]["ports"]}
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["maxUnavailable"] == 0
    assert hpa["spec"]["behavior"]["scaleDown"]["selectPolicy"] == "Disabled"
    assert hpa["spec"]["scaleTargetRef"]["name"] == m["Deployment"]["metadata"]["name"]


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines, current = [], ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        current += " " + line[:-1] if line.endswith("\\") else " " + line
        if not line.endswith("\\"):
            instr, _, args = current.strip().partition(" ")
            lines.append((instr.upper(), args.strip()))
            current = ""
    return lines


def test_dockerfile_cpu_torch_non_root_healthcheck_one_thread():
    steps = dockerfile()
    instrs = [i for i, _ in steps]
    assert steps[0][0] == "FROM" and steps[0][1].startswith("python:3.11-slim")
    runs = " ".join(a for i, a in steps if i == "RUN")
    assert "https://download.pytorch.org/whl/cpu" in runs and "torch==2.13.0+cpu" in runs
    assert runs.index("torch==2.13.0+cpu") < runs.index("-r requirements.txt"), "CPU torch before the rest"
    users = [a for i, a in steps if i == "USER"]
    assert users and users[-1] not in ("root", "0"), "runs as a non-root user"
    assert instrs.index("USER") > max(k for k, i in enumerate(instrs) if i == "RUN"), "no RUN after USER"
    (health,) = [a for i, a in steps if i == "HEALTHCHECK"]
    assert "/_stcore/health" in health
    assert int(re.search(r"--timeout=(\d+)s", health).group(1)) >= 5
    env = " ".join(a for i, a in steps if i == "ENV")
    assert "OMP_NUM_THREADS=1" in env
    assert "COOKIE_SECRET" not in env, "the cookie secret comes from the environment at run time"
    (cmd,) = [a for i, a in steps if i == "CMD"]
    assert json.loads(cmd)[:2] == ["streamlit", "run"], "exec form, streamlit as PID 1 gets SIGTERM"
