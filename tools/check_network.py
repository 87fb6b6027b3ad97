"""Check the network precondition of a deploy with VpcSubnetIds: every subnet given to the functions
routes 0.0.0.0/0 through a NAT gateway (the product API is on the internet; without VPC endpoints,
so are DynamoDB, Secrets Manager and X-Ray).

    make check-network SUBNETS=subnet-0aaa,subnet-0bbb      # with your AWS credentials and region

Exits 1 and names each subnet without such a route (or that does not exist).
"""

from __future__ import annotations

import sys
from typing import Any


def _route_table(ec2: Any, subnet: dict[str, Any]) -> dict[str, Any] | None:
    """The subnet's route table: its explicit association, else its VPC's main table."""
    explicit = ec2.describe_route_tables(
        Filters=[{"Name": "association.subnet-id", "Values": [subnet["SubnetId"]]}]
    )
    if explicit["RouteTables"]:
        return dict(explicit["RouteTables"][0])
    main = ec2.describe_route_tables(
        Filters=[
            {"Name": "vpc-id", "Values": [subnet["VpcId"]]},
            {"Name": "association.main", "Values": ["true"]},
        ]
    )
    return dict(main["RouteTables"][0]) if main["RouteTables"] else None


def subnets_without_nat(ec2: Any, subnet_ids: list[str]) -> dict[str, str]:
    """{subnet id: what is wrong} for every subnet without a default route through a NAT gateway."""
    problems: dict[str, str] = {}
    found = {
        s["SubnetId"]: s
        for s in ec2.describe_subnets(Filters=[{"Name": "subnet-id", "Values": subnet_ids}])["Subnets"]
    }
    for subnet_id in subnet_ids:
        subnet = found.get(subnet_id)
        if subnet is None:
            problems[subnet_id] = "no such subnet in this account and region"
            continue
        table = _route_table(ec2, subnet)
        routes = (table or {}).get("Routes", [])
        default = [
            r
            for r in routes
            if r.get("DestinationCidrBlock") == "0.0.0.0/0" and r.get("State", "active") == "active"
        ]
        if not default:
            problems[subnet_id] = "no route to 0.0.0.0/0"
        elif not any(r.get("NatGatewayId") for r in default):
            target = next((v for k, v in default[0].items() if k.endswith("Id") and k != "RouteTableId"), "?")
            problems[subnet_id] = (
                f"0.0.0.0/0 goes to {target}, not a NAT gateway (a function has no public IP)"
            )
    return problems


def main(argv: list[str]) -> int:
    import boto3

    subnet_ids = [s.strip() for s in ",".join(argv).split(",") if s.strip()]
    if not subnet_ids:
        print("usage: check_network.py subnet-0aaa,subnet-0bbb", file=sys.stderr)
        return 2
    problems = subnets_without_nat(boto3.client("ec2"), subnet_ids)
    for subnet_id, problem in problems.items():
        print(f"{subnet_id}: {problem}", file=sys.stderr)
    if not problems:
        print(
            f"ok: {', '.join(subnet_ids)} reach the internet through a NAT gateway"
            " (set VpcEgress=nat-gateway)"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
