"""Classification of findings, exit codes and the --json document."""

from __future__ import annotations

import io

from rich.console import Console

from preview.report import NotVerifiable, PreviewReport, Violation, is_not_verifiable, print_report

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
        }
    ]
    assert document["not_verifiable"] == [
        {"policy": "versioning", "urn": URN, "name": "audio", "message": "cannot verify until deploy"}
    ]


def test_terminal_report_groups_by_policy_and_resource_with_the_level() -> None:
    output = io.StringIO()

    print_report(report(violation("mandatory"), violation("mandatory")), Console(file=output, width=200))

    text = output.getvalue()
    assert "[mandatory]  versioning" in text
    assert text.count("(aws:s3/bucket:Bucket: audio)") == 1
    assert "FAIL: 2 mandatory, 0 advisory" in text
