"""`make demo`: the prod stack end to end on this machine, with no cloud account and no Pulumi CLI.

1. The program under Pulumi's mock runtime (preview semantics): the resource tree grouped by component, with
   each resource's DR protections.
2. The policy report: the same registrations through the `dr-guardrails` pack over the Analyzer protocol.
3. `drctl drill --stack prod --local`: every drill scenario on the embedded emulator (moto on 127.0.0.1),
   provisioned from the prod stack's typed config; RTO and RPO measured from canaries against the declared
   objectives. The regional scenarios (switch latency, region loss, failback and the two races) run on the
   two-Region rehearsal (emulator/) in its scaled profile: every time constant divided by 20, figures scaled back
   and labelled. A summary table and the report (JSON, Markdown, PNG) under reports/demo/.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.tree import Tree

from preview import cli as preview_cli
from preview.program import Registration, record_program
from preview.project import load_project, load_stack_config

REPO = Path(__file__).resolve().parent
STACK = "prod"
REPORTS = REPO / "reports" / "demo"
console = Console(width=max(Console().width, 132))  # the drill summary table needs the room


def _rules(properties: dict[str, Any]) -> list[dict[str, Any]]:
    return list(properties.get("rules") or [])


def describe(resource: Registration) -> str:
    """One line of what this resource contributes to recovery."""
    p, kind = resource.properties, resource.type.rsplit(":", 1)[-1]
    notes: list[str] = []
    if kind == "Bucket":
        notes = [p.get("region", "?"), "object lock" if p.get("objectLockEnabled") else "no object lock"]
        if "dr:mfa-delete-attested" in p.get("tags", {}):
            notes.append(f"MFA delete attested {p['tags']['dr:mfa-delete-attested']}")
    elif kind == "BucketVersioning":
        notes = [f"versioning {p.get('versioningConfiguration', {}).get('status')}"]
        if resource.options.ignore_changes:
            notes.append("ignores changes (MFA delete is the root user's step)")
    elif kind == "BucketObjectLockConfiguration":
        retention = p.get("rule", {}).get("defaultRetention", {})
        notes = [f"default retention {retention.get('mode')} {retention.get('days'):.0f} days"]
    elif kind == "BucketServerSideEncryptionConfiguration":
        rule = _rules(p)[0]
        notes = [
            rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"],
            "bucket key" * bool(rule["bucketKeyEnabled"]),
        ]
    elif kind == "BucketPublicAccessBlock":
        flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        notes = [f"public access blocked {sum(bool(p.get(f)) for f in flags)}/4"]
    elif kind == "BucketOwnershipControls":
        notes = [p.get("rule", {}).get("objectOwnership", "")]
    elif kind == "BucketPolicy":
        notes = ["TLS-only (denies aws:SecureTransport=false)"]
    elif kind == "BucketReplicationConfig":
        destination = _rules(p)[0]["destination"]
        notes = [
            f"CRR → {destination['bucket'].rsplit(':', 1)[-1]}",
            f"RTC {destination['replicationTime']['time']['minutes']:.0f} min",
            f"delete markers {_rules(p)[0]['deleteMarkerReplication']['status']}",
            f"replica class {destination.get('storageClass')}",
        ]
    elif kind == "BucketLifecycleConfiguration":
        rule = _rules(p)[0]
        steps = [
            f"{t['storageClass']} {t['noncurrentDays']:.0f}d" for t in rule.get("noncurrentVersionTransitions", [])
        ]
        notes = ["noncurrent → " + " → ".join(steps) if steps else "no noncurrent transitions"]
        notes.append(f"expire {rule['noncurrentVersionExpiration']['noncurrentDays']:.0f}d")
    elif kind == "Table":
        pitr = p.get("pointInTimeRecovery", {})
        replicas = [f"{r['regionName']} {r.get('consistencyMode', 'EVENTUAL')}" for r in p.get("replicas", [])]
        notes = [
            f"PITR {pitr.get('recoveryPeriodInDays', 0):.0f}d" if pitr.get("enabled") else "NO PITR",
            "deletion protection" if p.get("deletionProtectionEnabled") else "NO DELETION PROTECTION",
            "replicas " + ", ".join(replicas) if replicas else "single region",
        ]
        if p.get("globalTableWitness"):
            notes.append(f"witness {p['globalTableWitness']['regionName']}")
    elif kind == "VaultLockConfiguration":
        mode = "COMPLIANCE" if p.get("changeableForDays") is not None else "GOVERNANCE"
        notes = [f"{mode} lock {p.get('minRetentionDays'):.0f}-{p.get('maxRetentionDays'):.0f}d"]
    elif kind == "Plan":
        rule = _rules(p)[0]
        notes = [rule.get("schedule", ""), f"copies {len(rule.get('copyActions', []))}"]
    elif kind == "Key":
        notes = ["rotation on" if p.get("enableKeyRotation") else "NO ROTATION"]
    elif kind == "MetricAlarm" and p.get("metricQueries"):  # an anomaly-detection alarm: a band, no threshold
        metric = next(q["metric"]["metricName"] for q in p["metricQueries"] if q.get("metric"))
        notes = [f"{metric} above its anomaly band"]
    elif kind == "MetricAlarm":
        metric = p.get("metricName") or "+".join(
            sorted({q["metric"]["metricName"] for q in p.get("metricQueries", []) if "metric" in q})
        )
        below = p.get("comparisonOperator") == "LessThanThreshold"
        notes = [f"{metric} {'<' if below else '>'} {p.get('threshold'):.0f}", p.get("region", "")]
        if p.get("treatMissingData") == "breaching":
            notes.append("missing data breaches")
    elif kind == "ExperimentTemplate":
        notes = [f"FIS {a.get('actionId')}" for a in p.get("actions", [])]
        notes.append(f"{len(p.get('stopConditions', []))} stop alarm(s); no pulumi up while it runs")
    elif kind == "BucketMetric":
        notes = [f"S3 request metrics ({p.get('name')})"]
    elif kind == "Role":
        notes = [f"role {p.get('tags', {}).get('dr:role')}"]
    elif kind == "Function":
        notes = [p.get("handler", "")]
    elif kind == "BucketNotification":
        notes = [f"DeleteMarkerCreated on {[f.get('filterPrefix', '') for f in p.get('lambdaFunctions', [])]}"]
    if resource.options.protect:
        notes.append("protected")
    return ", ".join(n for n in notes if n)


def print_tree(registrations: list[Registration]) -> None:
    children: dict[str, list[Registration]] = defaultdict(list)
    for resource in registrations:
        children[resource.parent].append(resource)
    tree = Tree(f"[bold]stack {STACK}[/] ({len(registrations)} resources, preview semantics)")
    for top in (r for r in registrations if "pulumi:pulumi:Stack" in r.parent and not r.custom):
        branch = tree.add(f"[bold cyan]{top.type}[/] {top.name}")
        for resource in children[top.urn]:
            branch.add(f"{resource.type.rsplit('/', 1)[-1]} [green]{resource.name}[/]  [dim]{describe(resource)}[/]")
    console.print(tree)


def main() -> int:
    console.rule("1. The prod stack under Pulumi's mock runtime")
    project = load_project(REPO)
    recording = record_program(project, STACK, load_stack_config(project, STACK))
    print_tree(recording.registrations)

    console.rule("2. Policy report: dr-guardrails over the Analyzer protocol")
    policy_exit = preview_cli.main(["--program", str(REPO), "--stack", STACK, "--policy-pack", str(REPO / "policies")])

    console.rule("3. Drill of every scenario on emulated AWS (drctl drill --stack prod --local)")
    from handlers.cli.drills import run_stack_drill, summary_table
    from handlers.drills.report import write_report

    started = time.monotonic()

    def progress(message: str) -> None:
        console.print(f"[dim]{time.monotonic() - started:6.1f} s[/]  {message}")

    report = run_stack_drill(STACK, local=True, project_dir=REPO, progress=progress)
    paths = write_report(report, REPORTS)
    console.print(summary_table(report, paths))
    emulated: list[str] = []
    for result in report.scenarios:
        if result.status.value == "not_run":
            console.print(f"[yellow]not run[/] {result.scenario}: {'; '.join(result.notes)}")
        elif "basis_label" in result.checks:  # the rehearsal's: measured on emulated AWS, beside the budget
            console.print(f"[bold]{result.scenario}[/] ({result.status.value}):")
            for note in result.notes:
                console.print(f"  - {note}")
            emulated = emulated or list(result.emulated)
    if emulated:
        console.print("[dim]still emulated in the rehearsal:[/]")
        for part in emulated:
            console.print(f"[dim]  - {part}[/]")
    console.print(
        f"[dim]emulator: {report.emulator_ceiling}; bucket and table RTOs are lower bounds; drill wall time "
        f"{time.monotonic() - started:.0f} s[/]"
    )
    for kind, path in paths.items():
        console.print(f"report ({kind}): {path}")
    return 0 if policy_exit == 0 and report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
