"""Checks Deploy/ against the Kubernetes schemas and against the binaries, offline.

  python Scripts/check/deploy.py BIN_DIR     (BIN_DIR holds rerankd and rerank-admin; run by deploy.sh)

- Every Kubernetes manifest validates strictly (unknown fields are errors) against the schemas of the oldest
  and newest Kubernetes this targets (kubernetes-validate, offline), and kustomization.yaml lists each one.
- Every RERANK_* variable set anywhere in Deploy/ or the Dockerfile is a real rerankd option, every
  `rerank-admin SUB --flag` in a command is a real flag of SUB, every key of retrain.json a pipeline flag.
- Shutdown budgets hold: the grace period outlasts preStop plus the drain timeout (Kubernetes, Compose,
  systemd); the CronJob forbids overlap; the Indexed Job's shard count equals its completions; the model
  store's claim is ReadWriteMany and every claim a pod mounts exists.
- sharded-teacher/run.sh renders valid Jobs for a round of 8 shards, with the round's id and counts in place.
- systemd-analyze verifies the units (with ExecStart pointed at BIN_DIR).
"""
import json
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "Deploy"
KUBERNETES = DEPLOY / "kubernetes"
VERSIONS = ["1.30.0", "1.37.0"]  # backoffLimitPerIndex needs 1.29+
failures = []


def fail(message):
    failures.append(message)
    print(f"deploy: FAIL {message}")


def documents():
    """(path, document) of every Kubernetes manifest under Deploy/kubernetes."""
    for path in sorted(KUBERNETES.rglob("*.yaml")):
        if path.name != "kustomization.yaml":
            for document in yaml.safe_load_all(path.read_text()):
                if document:
                    yield path, document


def help_text(binary, *sub):
    return subprocess.run([binary, *sub, "--help"], capture_output=True, text=True, check=True).stdout


def options(text):
    return set(re.findall(r"--([a-z0-9][a-z0-9-]*)", text))


def pod_specs(document):
    kind, spec = document["kind"], document.get("spec", {})
    if kind in ("Deployment", "Job"):
        return [spec["template"]["spec"]]
    if kind == "CronJob":
        return [spec["jobTemplate"]["spec"]["template"]["spec"]]
    return []


def validate(files, version, what):
    """kubernetes-validate (beside this venv's Python), strict: unknown fields are errors."""
    validator = pathlib.Path(sys.executable).with_name("kubernetes-validate")
    result = subprocess.run([str(validator), "--strict", "--quiet", "-k", version, *files], capture_output=True, text=True)
    if result.returncode != 0:
        fail(f"{what}, kubernetes-validate {version}:\n{result.stdout}{result.stderr}")


def check_schemas():
    files = [str(p) for p in sorted(KUBERNETES.rglob("*.yaml")) if p.name != "kustomization.yaml"]
    for version in VERSIONS:
        validate(files, version, "Deploy/kubernetes")
    listed = set(yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())["resources"])
    present = {p.name for p in KUBERNETES.glob("*.yaml") if p.name != "kustomization.yaml"}
    if listed != present:
        fail(f"kustomization.yaml resources {sorted(listed)} != manifests {sorted(present)}")


def check_names(bin_dir):
    rerankd = options(help_text(bin_dir / "rerankd"))
    variables = {"RERANK_" + o.upper().replace("-", "_") for o in rerankd}
    texts = [p.read_text() for p in DEPLOY.rglob("*") if p.is_file()] + [(ROOT / "Dockerfile").read_text()]
    for name in sorted({v for t in texts for v in re.findall(r"\bRERANK_[A-Z_]+\b", t)}):
        if name not in variables:
            fail(f"{name} is set in Deploy/ or the Dockerfile but rerankd has no such option")
    admin = bin_dir / "rerank-admin"
    flags = {}
    for text in texts:
        for sub, rest in re.findall(r"(?<!--entrypoint )rerank-admin\"?\]?,? ?\[?\"?([a-z-]+)([^\n'\]]*)", text):
            if sub not in flags:
                flags[sub] = options(help_text(admin, sub))
            for flag in re.findall(r"(?<![\w-])--([a-z][a-z0-9-]*)", rest):
                if flag not in flags[sub]:
                    fail(f"`rerank-admin {sub} --{flag}` in Deploy/: no such flag")
    pipeline = flags.get("pipeline") or options(help_text(admin, "pipeline"))
    for path, document in documents():
        if document["kind"] == "ConfigMap" and "retrain.json" in document.get("data", {}):
            for key in json.loads(document["data"]["retrain.json"]):
                if key not in pipeline:
                    fail(f"{path.name}: retrain.json key {key!r} is not a pipeline flag")


def check_budgets():
    config, claims, mounted = {}, {}, set()
    docs = list(documents())
    for _, document in docs:
        if document["kind"] == "ConfigMap" and document["metadata"]["name"] == "rerankd":
            config = document["data"]
        if document["kind"] == "PersistentVolumeClaim":
            claims[document["metadata"]["name"]] = document["spec"]["accessModes"]
    drain = int(config.get("RERANK_DRAIN_TIMEOUT", 30))
    for path, document in docs:
        for spec in pod_specs(document):
            for volume in spec.get("volumes", []):
                if "persistentVolumeClaim" in volume:
                    mounted.add(volume["persistentVolumeClaim"]["claimName"])
        if document["kind"] == "Deployment":
            spec = pod_specs(document)[0]
            container = spec["containers"][0]
            pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
            sleep = int(pre_stop[-1]) if pre_stop and pre_stop[-1].isdigit() else 0
            grace = spec.get("terminationGracePeriodSeconds", 30)
            if grace <= sleep + drain:
                fail(f"{path.name}: terminationGracePeriodSeconds {grace} <= preStop {sleep} + drain {drain}")
            probes = {k: container.get(k, {}).get("httpGet", {}).get("path") for k in ("readinessProbe", "livenessProbe")}
            if probes != {"readinessProbe": "/ready", "livenessProbe": "/health"}:
                fail(f"{path.name}: probes {probes}")
        if document["kind"] == "CronJob" and document["spec"].get("concurrencyPolicy") != "Forbid":
            fail(f"{path.name}: the retraining CronJob must not overlap (concurrencyPolicy: Forbid)")
        if document["kind"] == "Job" and document["spec"].get("completionMode") == "Indexed":
            env = {e["name"]: e.get("value") for e in pod_specs(document)[0]["containers"][0].get("env", [])}
            if str(document["spec"]["completions"]) != env.get("SHARDS"):
                fail(f"{path.name}: SHARDS {env.get('SHARDS')} != completions {document['spec']['completions']}")
    for claim in sorted(mounted - claims.keys()):
        fail(f"a pod mounts the claim {claim}, which no manifest defines")
    if "ReadWriteMany" not in claims.get("rerank-models", []):
        fail("the model store's claim rerank-models must be ReadWriteMany (every replica mounts it)")
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    declared = set(compose.get("volumes", {}))
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")) and source not in declared:
                fail(f"compose.yaml: service {name} mounts undeclared volume {source}")
    grace = compose["services"]["rerankd"].get("stop_grace_period", "10s")
    if int(grace.rstrip("s")) <= drain:
        fail(f"compose.yaml: stop_grace_period {grace} <= drain {drain}")
    unit = (DEPLOY / "systemd/rerankd.service").read_text()
    stop = int(re.search(r"TimeoutStopSec=(\d+)", unit).group(1))
    if stop <= drain:
        fail(f"rerankd.service: TimeoutStopSec {stop} <= drain {drain}")


def check_sharded_round():
    """What sharded-teacher/run.sh applies for a round of 8 shards: valid Jobs, every count and name substituted."""
    script = KUBERNETES / "sharded-teacher/run.sh"
    rendered = subprocess.run([str(script), "2026-w49", "8"], env={"PRINT_ONLY": "1", "PATH": "/usr/bin:/bin"},
                              capture_output=True, text=True, check=True).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as out:
        out.write(rendered)
        out.flush()
        validate([out.name], VERSIONS[-1], "the Jobs run.sh renders")
    jobs = [d for d in yaml.safe_load_all(rendered) if d]
    for job in jobs:
        env = {e["name"]: e.get("value") for e in pod_specs(job)[0]["containers"][0].get("env", [])}
        if env.get("RUN") != "2026-w49":
            fail(f"run.sh: {job['metadata']['name']} has RUN {env.get('RUN')!r}, not the round's id")
        if job["spec"].get("completionMode") == "Indexed" and not (
                job["spec"]["completions"] == job["spec"]["parallelism"] == 8 and env.get("SHARDS") == "8"):
            fail(f"run.sh: 8 shards rendered as completions {job['spec']['completions']}, SHARDS {env.get('SHARDS')}")
    if len(jobs) != 3:
        fail(f"run.sh renders {len(jobs)} Jobs, not 3")


def check_systemd(bin_dir):
    if shutil.which("systemd-analyze") is None:
        fail("systemd-analyze is missing (Debian package systemd)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        units = []
        for path in sorted((DEPLOY / "systemd").iterdir()):
            (pathlib.Path(tmp) / path.name).write_text(path.read_text().replace("/usr/local/bin/", f"{bin_dir}/"))
            units.append(f"./{path.name}")
        result = subprocess.run(["systemd-analyze", "verify", "--man=no", *units], cwd=tmp, capture_output=True, text=True)
        if result.returncode != 0 or result.stderr.strip():
            fail(f"systemd-analyze verify:\n{result.stderr}")


def main():
    bin_dir = pathlib.Path(sys.argv[1]).resolve()
    check_schemas()
    check_names(bin_dir)
    check_budgets()
    check_sharded_round()
    check_systemd(bin_dir)
    if failures:
        sys.exit(f"deploy: {len(failures)} problem(s)")
    print("deploy: Kubernetes manifests (schemas " + ", ".join(VERSIONS) + "), Compose, systemd and the Dockerfile agree "
          "with the binaries")


if __name__ == "__main__":
    main()
