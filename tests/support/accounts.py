"""A target in another account and region, which the monitor reads by assuming its role."""

OTHER_REGION = "eu-west-1"
ROLE_ARN = "arn:aws:iam::111122223333:role/batch-health-target"
EXTERNAL_ID = "academy-7f3a"
