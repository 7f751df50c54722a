import pulumi
import pulumi_aws_apigateway as apigateway

api = apigateway.RestAPI(
    "api",
    routes=[apigateway.RouteArgs(path="/", local_path="www")],
)

pulumi.export("url", api.url)
