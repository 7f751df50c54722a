"""The SNS topics DR alarms publish to: one per region asked for, each with the same email subscription.

A CloudWatch alarm can only notify an SNS topic in its own Region, and each alarm lives in the Region where AWS
publishes its metric (S3 publishes replication latency in the destination Region, for one). So every Region that
holds an alarm gets its own topic. AWS sends one confirmation email per subscription, so the address receives one
per Region, and a topic whose subscription is still unconfirmed delivers nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import arns

# RFC 2606 and RFC 6761 reserve these names for documentation and testing; mail to them is never delivered.
RESERVED_TOP_LEVEL_DOMAINS = ("example", "test", "invalid", "localhost")
RESERVED_SECOND_LEVEL_DOMAINS = ("example.com", "example.net", "example.org")


def reserved_email_domain(email: str) -> str | None:
    """The reserved domain ``email`` is in (RFC 2606/6761), or None when mail to it can be delivered."""
    domain = email.rpartition("@")[2].lower().rstrip(".")
    labels = domain.split(".")
    if labels[-1] in RESERVED_TOP_LEVEL_DOMAINS:
        return f".{labels[-1]}"
    for reserved in RESERVED_SECOND_LEVEL_DOMAINS:
        if domain == reserved or domain.endswith(f".{reserved}"):
            return reserved
    return None


@dataclass(frozen=True)
class AlertTopicArgs:
    topic_name: str
    email: str
    # Region -> that Region's provider. The first Region keeps the unsuffixed child names, so a stack that had
    # a single topic keeps it (and its confirmed subscription) instead of replacing it.
    providers: Mapping[str, aws.Provider]


class AlertTopic(pulumi.ComponentResource):
    TYPE = "dr:alerting:AlertTopic"

    topic_arns: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: AlertTopicArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if not args.providers:
            raise ValueError(f"{name}: give at least one region for the alert topics")
        super().__init__(self.TYPE, name, None, opts)
        domain = reserved_email_domain(args.email)
        if domain is not None:
            pulumi.log.warn(
                f"alertEmail {args.email!r} is in the reserved domain {domain} (RFC 2606/6761): no alarm email "
                "will ever arrive. Set dr-as-code:alertEmail to an address you read.",
                resource=self,
            )
        self.topic_arns = {}
        for position, (region, provider) in enumerate(args.providers.items()):
            child_name = name if position == 0 else f"{name}-{region}"
            child = pulumi.ResourceOptions(parent=self, provider=provider)
            topic = aws.sns.Topic(
                child_name, name=args.topic_name, region=region, tags={"dr:component": name}, opts=child
            )
            aws.sns.TopicSubscription(
                f"{child_name}-email", topic=topic.arn, protocol="email", endpoint=args.email, region=region, opts=child
            )
            account = aws.get_caller_identity_output(
                opts=pulumi.InvokeOutputOptions(parent=self, provider=provider)
            ).account_id
            # Built from the name so alarm actions and IAM statements that use it are known at preview.
            self.topic_arns[region] = arns.sns_topic_arn(args.topic_name, region, account)
            # EventBridge rules (AWS Backup job failures, components/backup_events.py) publish as the events
            # service: the topic's policy must allow it, for this account's rules only.
            aws.sns.TopicPolicy(
                f"{child_name}-policy",
                arn=topic.arn,
                policy=pulumi.Output.json_dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "AccountOwnsTopic",
                                "Effect": "Allow",
                                "Principal": {
                                    "AWS": pulumi.Output.concat(
                                        "arn:", arns.partition(region), ":iam::", account, ":root"
                                    )
                                },
                                "Action": ["sns:Publish", "sns:Subscribe", "sns:GetTopicAttributes"],
                                "Resource": self.topic_arns[region],
                            },
                            {
                                "Sid": "EventBridgeRulesPublish",
                                "Effect": "Allow",
                                "Principal": {"Service": "events.amazonaws.com"},
                                "Action": "sns:Publish",
                                "Resource": self.topic_arns[region],
                                "Condition": {"StringEquals": {"aws:SourceAccount": account}},
                            },
                        ],
                    }
                ),
                region=region,
                opts=child,
            )
        self.register_outputs({"topic_arns": self.topic_arns})


def topic_in(topic_arns: Mapping[str, pulumi.Input[str]], region: str, user: str) -> pulumi.Input[str]:
    """The alert topic in ``region``: an alarm (or a function) there can only notify a topic in its own Region."""
    try:
        return topic_arns[region]
    except KeyError:
        raise ValueError(
            f"{user}: no alert topic in {region} (topics exist in {', '.join(topic_arns) or 'no region'}); "
            "ask AlertTopic for that region"
        ) from None
