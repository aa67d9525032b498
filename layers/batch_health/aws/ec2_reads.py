"""The EC2 reads of the placement analysis, batched across the targets of one account.

Each answers a list of keys in one paginated call and says, for every key asked, what it
found (an empty answer is an answer: the key is known to have nothing):
- DescribeInstanceTypes with the `instance-type` filter (values may be wildcards, "c5.*"):
  filter value -> the DescribeInstanceTypes entries it matches;
- DescribeSubnets with the `subnet-id` filter (a filter, not `SubnetIds`, so that one
  deleted subnet does not fail the whole batch with InvalidSubnetID.NotFound): subnet ->
  its Availability Zone, "" when not found;
- DescribeInstanceTypeOfferings with LocationType=availability-zone and the `instance-type`
  filter: type -> the zones that offer it.
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstanceTypes.html,
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSubnets.html,
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstanceTypeOfferings.html)
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

# Values per filter in one request: the EC2 API reference gives no maximum for these
# filters; 100 keeps a request well inside the URL and body sizes any endpoint accepts.
FILTER_VALUES_MAX = 100


def _pages(ec2: Any, operation: str, **params: Any) -> list[dict[str, Any]]:
    return list(ec2.get_paginator(operation).paginate(**params))


def fetch_instance_types(ec2: Any, values: list[str]) -> dict[str, tuple[dict[str, Any], ...]]:
    pages = _pages(
        ec2, "describe_instance_types", Filters=[{"Name": "instance-type", "Values": values}]
    )
    entries = [e for p in pages for e in p.get("InstanceTypes") or [] if isinstance(e, dict)]
    return {
        value: tuple(e for e in entries if fnmatchcase(str(e.get("InstanceType", "")), value))
        for value in values
    }


def fetch_subnet_zones(ec2: Any, subnet_ids: list[str]) -> dict[str, str]:
    pages = _pages(ec2, "describe_subnets", Filters=[{"Name": "subnet-id", "Values": subnet_ids}])
    found = {
        str(s.get("SubnetId")): str(s.get("AvailabilityZone") or "")
        for p in pages
        for s in p.get("Subnets") or []
        if isinstance(s, dict)
    }
    return {s: found.get(s, "") for s in subnet_ids}


def fetch_offerings(ec2: Any, type_names: list[str]) -> dict[str, frozenset[str]]:
    pages = _pages(
        ec2,
        "describe_instance_type_offerings",
        LocationType="availability-zone",
        Filters=[{"Name": "instance-type", "Values": type_names}],
    )
    zones: dict[str, set[str]] = {name: set() for name in type_names}
    for page in pages:
        for offer in page.get("InstanceTypeOfferings") or []:
            name, zone = str(offer.get("InstanceType", "")), str(offer.get("Location", ""))
            if name in zones and zone:
                zones[name].add(zone)
    return {name: frozenset(z) for name, z in zones.items()}
