"""The documented limits that this project's output must meet, in one place, with sources.

Every producer clips to these (batch_health.text.clip); tests/unit/test_limits.py drives
adversarial content (non-ASCII, emoji, control characters, huge hints, 200 targets)
through every producer and checks the result against them.
"""

from __future__ import annotations

# --- Amazon SNS Publish ---------------------------------------------------------------
# "Subjects must be UTF-8 text with no line breaks or control characters, and less than
# 100 characters long." https://docs.aws.amazon.com/sns/latest/api/API_Publish.html
SNS_SUBJECT_MAX_CHARS = 99
# "messages must be UTF-8 encoded strings and at most 256 KB in size (262,144 bytes, not
# 262,144 characters)"; "All parts of the message attribute, including name, type, and
# value, are included in the message size restriction".
# https://docs.aws.amazon.com/sns/latest/api/API_Publish.html
# https://docs.aws.amazon.com/sns/latest/api/API_MessageAttributeValue.html
SNS_MESSAGE_MAX_BYTES = 262_144
# "Message attributes are sent only when the message structure is String, not JSON."
# https://docs.aws.amazon.com/sns/latest/dg/sns-message-attributes.html
# Raw delivery to SQS drops messages with more than 10 attributes (same page).
SNS_ATTRIBUTES_MAX = 10
SNS_ATTRIBUTE_NAME_MAX_CHARS = 256

# --- Slack Block Kit (incoming webhooks) -------------------------------------------------
# https://docs.slack.dev/reference/block-kit/blocks/header-block (plain_text, 150)
# https://docs.slack.dev/reference/block-kit/blocks/section-block (text 3000; fields: 10
# items of 2000) https://docs.slack.dev/reference/block-kit/blocks/context-block (10
# elements) https://api.slack.com/reference/block-kit/blocks (50 blocks per message)
# https://api.slack.com/changelog/2018-04-truncating-really-long-messages (text 40,000)
SLACK_BLOCKS_MAX = 50
SLACK_HEADER_TEXT_MAX = 150
SLACK_SECTION_TEXT_MAX = 3000
SLACK_FIELDS_MAX = 10
SLACK_FIELD_TEXT_MAX = 2000
SLACK_CONTEXT_ELEMENTS_MAX = 10
SLACK_CONTEXT_TEXT_MAX = 3000  # a text object: "maximum length is 3000 characters"
SLACK_TEXT_MAX = 40_000

# --- CloudWatch embedded metric format and metrics ---------------------------------------
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
EMF_METRICS_PER_DOCUMENT = 100
EMF_DIMENSIONS_PER_SET = 30
# Dimension values: 1-1024 characters (CloudWatch API), but AWS::CloudWatch::Alarm
# documents 255 for its dimension values: the stricter one, so alarms can name a target.
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_Dimension.html
DIMENSION_VALUE_MAX_CHARS = 255
METRIC_NAME_MAX_CHARS = 255  # also the namespace
# A log event: 256 KB in the older PutLogEvents text (1 MB today); the stricter one.
# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html
LOG_EVENT_MAX_BYTES = 256 * 1024

# --- CloudWatch alarms and dashboards ----------------------------------------------------
# "A default of 200 alarms using the Metrics Insights query per account per Region".
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-limits.html
METRICS_INSIGHTS_ALARMS_PER_REGION = 200
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
ALARM_NAME_MAX_CHARS = 255
ALARM_DESCRIPTION_MAX_CHARS = 1024
ALARM_ACTIONS_MAX = 5
# "Each GetMetricData operation can have only one query, but you can have multiple widgets
# in a dashboard that each include a query." A widget is one GetMetricData request.
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-metrics-insights-limits.html
METRICS_INSIGHTS_QUERIES_PER_WIDGET = 1
METRICS_INSIGHTS_QUERIES_PER_ALARM = 1

# --- Lambda ------------------------------------------------------------------------------
# "The total size of all environment variables doesn't exceed 4 KB." How it is counted is
# not documented: counted here as the UTF-8 bytes of every name and value.
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html
LAMBDA_ENVIRONMENT_MAX_BYTES = 4096
# "For asynchronous invocations, the maximum payload size is 1 MB" (256 KB before);
# "6 MB each for request and response (synchronous)".
# https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html
LAMBDA_ASYNC_PAYLOAD_MAX_BYTES = 256 * 1024
LAMBDA_RESPONSE_MAX_BYTES = 6 * 1024 * 1024

# --- IAM ---------------------------------------------------------------------------------
# Role inline policies: 10,240 characters in aggregate, whitespace not counted.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
IAM_ROLE_INLINE_POLICIES_MAX_CHARS = 10_240
# A managed policy: 6,144 characters, whitespace not counted (same page).
IAM_MANAGED_POLICY_MAX_CHARS = 6_144
IAM_MANAGED_POLICY_MAX_CHARS = 6_144
IAM_MANAGED_POLICIES_PER_ROLE = 10  # the default quota (20 on request)

# --- SSM Parameter Store -----------------------------------------------------------------
# "Standard parameters have a value limit of 4 KB. Advanced parameters have a value limit
# of 8 KB." https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html
SSM_STANDARD_VALUE_MAX_BYTES = 4096
SSM_ADVANCED_VALUE_MAX_BYTES = 8192
SSM_GET_PARAMETERS_MAX_NAMES = 10
SSM_BY_PATH_MAX_RESULTS = 10

# --- CloudFormation ------------------------------------------------------------------------
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
CFN_PARAMETER_VALUE_MAX_BYTES = 4096
CFN_TEMPLATE_BODY_MAX_BYTES = 51_200  # in the request; 1 MB from S3 (sam deploy uploads)

# --- EventBridge ------------------------------------------------------------------------------
# "Event pattern size: 2048 characters maximum" (per rule).
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html
EVENT_PATTERN_MAX_CHARS = 2048

# --- the configuration and the function's own output --------------------------------------
TARGETS_MAX = 200  # targets in one configuration (one invocation)
LOGGED_DETAIL_MAX_CHARS = 2000  # a check's detail in the "target checked" log line

# --- DynamoDB ------------------------------------------------------------------------------
# TransactWriteItems "groups up to 100 action requests"; BatchGetItem reads "up to 100 items".
# https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
DYNAMODB_TRANSACTION_MAX_ITEMS = 100
DYNAMODB_BATCH_GET_MAX_KEYS = 100

# --- Lambda's SQS event source -------------------------------------------------------------
# Maximum concurrency: "the minimum supported value is 2"; at most 1000.
# https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html
SQS_ESM_MAX_CONCURRENCY_MIN = 2
