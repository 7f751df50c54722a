import pulumi
import pulumi_aws as aws

config = pulumi.Config()
network = pulumi.StackReference(config.require("networkStack"))
vpc_id = network.require_output("vpcId")

web = aws.ec2.SecurityGroup(
    "web",
    vpc_id=vpc_id,
    description="HTTPS from the load balancer",
    ingress=[{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": ["10.0.0.0/16"]}],
)

pulumi.export("security_group", web.id)
