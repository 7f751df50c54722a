"""The SNS topic that every DR alarm publishes to, with an email subscription."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import arns


@dataclass(frozen=True)
class AlertTopicArgs:
    topic_name: str
    email: str
    region: str
    provider: aws.Provider


class AlertTopic(pulumi.ComponentResource):
    topic_arn: pulumi.Output[str]

    def __init__(self, name: str, args: AlertTopicArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dr:alerting:AlertTopic", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        # CloudWatch alarms can only publish to a topic in their own region, so alarms live in this region.
        topic = aws.sns.Topic(name, name=args.topic_name, region=args.region, tags={"dr:component": name}, opts=child)
        aws.sns.TopicSubscription(
            f"{name}-email",
            topic=topic.arn,
            protocol="email",
            endpoint=args.email,
            region=args.region,
            opts=child,
        )
        account = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(parent=self, provider=args.provider)
        ).account_id
        # Built from the name so alarm actions and IAM statements that use it are known at preview.
        self.topic_arn = arns.sns_topic_arn(args.topic_name, args.region, account)
        self.register_outputs({"topic_arn": self.topic_arn})
