import pulumi
import pulumi_aws as aws

topic = aws.sns.Topic("alerts")
pulumi.export("topic", topic.arn)
