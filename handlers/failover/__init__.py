"""The FailoverSite runtime: the orchestrator (``orchestrator``), failback (``failback``) and their parts.

Everything here runs in the recovery region and never calls Route 53's control plane: DNS moves through the
switch (a CloudWatch metric behind an alarm-based health check, or an ARC routing control).
"""
