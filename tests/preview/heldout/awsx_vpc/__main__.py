import pulumi
import pulumi_aws as aws
import pulumi_awsx as awsx

vpc = awsx.ec2.Vpc(
    "vpc",
    cidr_block="10.10.0.0/16",
    nat_gateways=awsx.ec2.NatGatewayConfigurationArgs(strategy=awsx.ec2.NatGatewayStrategy.NONE),
)
web = aws.ec2.SecurityGroup(
    "web",
    vpc_id=vpc.vpc_id,
    description="HTTPS from anywhere",
    ingress=[{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": ["0.0.0.0/0"]}],
)

pulumi.export("vpc_id", vpc.vpc_id)
pulumi.export("private_subnets", vpc.private_subnet_ids)
