"""Every failed, expired or aborted AWS Backup job reaches the alert topic, backup and copy jobs alike.

An EventBridge rule, not a CloudWatch alarm: the ``AWS/Backup`` metrics' dimension sets are not confirmed here, and
AWS Backup sends "Backup Job State Change" and "Copy Job State Change" events for every job ("Monitoring AWS Backup
events using Amazon EventBridge", https://docs.aws.amazon.com/aws-backup/latest/devguide/eventbridge.html; "AWS
Backup events", EventBridge events reference). Delivery is best effort, about every 5 minutes.

A job's events carry its state under ``state`` or ``status`` (the guide: "Some events report status: COMPLETED
whereas other events report state: COMPLETED"), so the pattern matches either. A copy job that hits a system error
is retried for up to 2 h while it stays ``CREATED``: no event here, since the pattern names only terminal failures;
``drctl backup status`` shows such a job as retrying (handlers/backup/jobs.py).

Jobs run in one Region each (a backup job in its vault's Region, a copy job in the source vault's Region), so the
rule lives in every Region that runs the stack's jobs and targets that Region's alert topic (EventBridge targets an
SNS topic in its own Region; the topic's policy lets events.amazonaws.com publish, components/alerting.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components.alerting import topic_in

# AWS Backup's job states (botocore backup model: BackupJobState, CopyJobState) that mean the job will not finish.
FAILED_JOB_STATES = ("FAILED", "EXPIRED", "ABORTED")
JOB_EVENTS = ("Backup Job State Change", "Copy Job State Change")


def failed_job_pattern() -> str:
    """The rule's event pattern: backup and copy jobs of this account in a terminal failure state."""
    return json.dumps(
        {
            "source": ["aws.backup"],
            "detail-type": list(JOB_EVENTS),
            "$or": [
                {"detail": {"state": list(FAILED_JOB_STATES)}},
                {"detail": {"status": list(FAILED_JOB_STATES)}},
            ],
        }
    )


def failed_job_notifications(
    name: str,
    regions: Sequence[str],
    providers: Mapping[str, aws.Provider],
    topics: Mapping[str, pulumi.Input[str]],
    parent: pulumi.Resource,
    tags: Mapping[str, str],
) -> None:
    """One rule and SNS target per Region that runs jobs, as children of ``parent``."""
    for region in dict.fromkeys(regions):
        child = pulumi.ResourceOptions(parent=parent, provider=providers[region])
        rule = aws.cloudwatch.EventRule(
            f"{name}-failed-jobs-{region}",
            description="AWS Backup backup or copy job failed, expired or was aborted",
            event_pattern=failed_job_pattern(),
            region=region,
            tags=dict(tags),
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-failed-jobs-{region}",
            rule=rule.name,
            arn=topic_in(topics, region, f"{name} job notifications"),
            region=region,
            opts=child,
        )
