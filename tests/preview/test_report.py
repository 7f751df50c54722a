"""Classification of findings, exit codes and the --json document."""

from __future__ import annotations

import io

from rich.console import Console

from preview.report import (
    AppliedRemediation,
    NotVerifiable,
    PolicyInfo,
    PreviewReport,
    Violation,
    error_json,
    is_not_verifiable,
    print_report,
    python_path,
)

URN = "urn:pulumi:prod::shop::aws:s3/bucket:Bucket::audio"


def report(*violations: Violation, not_verifiable: tuple[NotVerifiable, ...] = ()) -> PreviewReport:
    return PreviewReport(
        project="shop",
        stack="prod",
        pack_name="pack",
        pack_version="1.0.0",
        pack_path="policies",
        resources=3,
        violations=list(violations),
        not_verifiable=list(not_verifiable),
    )


def violation(level: str) -> Violation:
    return Violation("versioning", level, URN, "aws:s3/bucket:Bucket", "audio", "versioning is off")


def test_cannot_verify_and_sdk_unknown_notes_are_not_verifiable_anything_else_is_a_violation() -> None:
    assert is_not_verifiable("cannot verify until deploy: the bucket id is unknown")
    assert is_not_verifiable(
        "can't run policy 'x' from policy pack 'pack@v1.0.0' during preview: string value at .a can't be known"
    )
    assert is_not_verifiable("can't run remediation 'x' from policy pack 'pack@v1.0.0' during preview: ...")
    assert not is_not_verifiable("versioning is off; cannot verify until deploy")
    assert not is_not_verifiable("can't run policy 'x' because the bucket is public")


def test_only_mandatory_violations_fail_unless_unverifiable_checks_are_asked_to() -> None:
    note = NotVerifiable("versioning", URN, "aws:s3/bucket:Bucket", "audio", "cannot verify until deploy", "advisory")

    assert report(violation("advisory")).exit_code() == 0
    assert report(violation("advisory"), violation("mandatory")).exit_code() == 1
    assert report(not_verifiable=(note,)).exit_code() == 0
    assert report(not_verifiable=(note,)).exit_code(fail_on_unverifiable=True) == 1


def test_json_document_has_the_contract_keys() -> None:
    note = NotVerifiable("versioning", URN, "aws:s3/bucket:Bucket", "audio", "cannot verify until deploy", "mandatory")

    document = report(violation("mandatory"), not_verifiable=(note,)).to_json()

    assert document["resources"] == 3
    assert document["violations"] == [
        {
            "policy": "versioning",
            "enforcement": "mandatory",
            "urn": URN,
            "type": "aws:s3/bucket:Bucket",
            "name": "audio",
            "message": "versioning is off",
            "severity": "",
            "control": "",
        }
    ]
    assert document["not_verifiable"] == [
        {
            "policy": "versioning",
            "urn": URN,
            "type": "aws:s3/bucket:Bucket",
            "name": "audio",
            "message": "cannot verify until deploy",
        }
    ]
    assert document["category"] == "violations"


def test_category_names_the_verdict() -> None:
    note = NotVerifiable("versioning", URN, "aws:s3/bucket:Bucket", "audio", "cannot verify until deploy", "mandatory")

    assert report().category == "pass"
    assert report(violation("advisory")).category == "pass"
    assert report(violation("advisory"), not_verifiable=(note,)).category == "not verifiable"
    assert report(violation("mandatory"), not_verifiable=(note,)).category == "violations"
    assert error_json("environment error: no venv", "", "environment error")["category"] == "environment error"
    output = io.StringIO()
    print_report(report(violation("advisory"), not_verifiable=(note,)), Console(file=output, width=200))
    assert "NOT VERIFIABLE OFFLINE (no mandatory violation found): 0 mandatory, 1 advisory" in output.getvalue()
    assert "PASS" not in output.getvalue()


def test_terminal_report_groups_by_policy_and_resource_with_the_level() -> None:
    output = io.StringIO()

    print_report(report(violation("mandatory"), violation("mandatory")), Console(file=output, width=200))

    text = output.getvalue()
    assert "[mandatory]  versioning" in text
    assert text.count("(aws:s3/bucket:Bucket: audio)") == 1
    assert "FAIL: 2 mandatory, 0 advisory" in text


def test_remediations_are_findings_needing_a_code_change_and_can_fail_the_run() -> None:
    fill = AppliedRemediation(
        "pitr",
        URN,
        "aws:dynamodb/table:Table",
        "orders",
        ["pointInTimeRecovery"],
        ["point_in_time_recovery.enabled=True (engine: pointInTimeRecovery.enabled)"],
    )
    override = AppliedRemediation(
        "pitr",
        URN,
        "aws:dynamodb/table:Table",
        "ledger",
        ["pointInTimeRecovery"],
        ["point_in_time_recovery.enabled=True (engine: pointInTimeRecovery.enabled)"],
        False,
        [
            "explicit `point_in_time_recovery.enabled=False` would be overridden at deploy "
            "(engine: pointInTimeRecovery.enabled)"
        ],
    )
    subject = report()
    subject.remediations = [fill, override]
    subject.policy_info = {"versioning": PolicyInfo("high", "Security Hub S3.14")}
    output = io.StringIO()

    print_report(subject, Console(file=output, width=250))

    text = output.getvalue()
    assert "Remediations: the code still needs a change" in text
    assert "set point_in_time_recovery.enabled=True (engine: pointInTimeRecovery.enabled)" in text
    assert "explicit `point_in_time_recovery.enabled=False` would be overridden at deploy" in text
    assert "2 remediation(s) needing a code change" in text
    assert subject.exit_code() == 0
    assert subject.exit_code(fail_on_remediation=True) == 1
    document = subject.to_json()["remediations"]
    assert [item["applied_offline"] for item in document] == [True, False]
    assert all(item["needs_code_change"] for item in document)


def test_severity_and_control_are_shown_beside_the_policy() -> None:
    subject = report(violation("mandatory"))
    subject.policy_info = {"versioning": PolicyInfo("high", "Security Hub S3.14")}
    output = io.StringIO()

    print_report(subject, Console(file=output, width=200))

    assert "[mandatory]  versioning (severity high; control Security Hub S3.14)" in output.getvalue()
    assert subject.to_json()["violations"][0]["control"] == "Security Hub S3.14"


def test_python_paths_are_the_arguments_the_user_writes() -> None:
    assert python_path(("pointInTimeRecovery", "enabled")) == "point_in_time_recovery.enabled"
    assert python_path(("replicas", 0, "pointInTimeRecovery")) == "replicas[0].point_in_time_recovery"
    assert python_path(("blockPublicAcls",), engine=True) == "blockPublicAcls"
