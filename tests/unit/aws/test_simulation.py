"""The IAM simulator's answers (aws/simulation.py): one result per resource or one for all,
read per resource; a failing simulation is not retried."""

from __future__ import annotations

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError
from support.faults import Body

from batch_health.aws.inventory import Inventory
from batch_health.aws.sessions import AwsSessions
from batch_health.aws.simulation import simulation_answers
from batch_health.config import Target
from batch_health.demo import EXEC_ROLE, JOBDEF, QUEUE


def test_a_failing_simulation_is_not_retried():
    """Emulators answer 500 for the simulator; retrying would only spend the time budget."""
    view = Inventory(AwsSessions()).view(Target(job_queue=QUEUE, job_definition=JOBDEF))
    sends: list[str] = []

    def answer_500(request, **_):
        sends.append(request.url)
        return AWSResponse(request.url, 500, {}, Body(b"<html>Internal Server Error</html>"))

    view.client("iam").meta.events.register_first(
        "before-send.iam.SimulatePrincipalPolicy", answer_500
    )
    with pytest.raises((ClientError, ResponseParserError)):
        view.simulate_principal_policy(
            f"arn:aws:iam::123456789012:role/{EXEC_ROLE}", ("logs:PutLogEvents",), "*"
        )
    assert len(sends) == 1


def test_older_answers_with_one_result_per_resource_are_read_per_resource():
    results = [
        {
            "EvalActionName": "logs:PutLogEvents",
            "EvalResourceName": "r1",
            "EvalDecision": "allowed",
        },
        {
            "EvalActionName": "logs:PutLogEvents",
            "EvalResourceName": "r2",
            "EvalDecision": "implicitDeny",
        },
    ]
    (r1,) = simulation_answers(results, ("logs:PutLogEvents",), "r1", alone=False)
    (r2,) = simulation_answers(results, ("logs:PutLogEvents",), "r2", alone=False)
    assert (r1["EvalDecision"], r2["EvalDecision"]) == ("allowed", "implicitDeny")
    assert r2["EvalResourceName"] == "r2"


def test_one_resource_asked_about_takes_the_top_level_decision():
    # The top-level decision is the most restrictive over the resources asked about.
    results = [
        {
            "EvalActionName": "ecr:BatchGetImage",
            "EvalResourceName": "*",
            "EvalDecision": "explicitDeny",
        }
    ]
    (answer,) = simulation_answers(results, ("ecr:BatchGetImage",), "arn:repo", alone=True)
    assert answer["EvalDecision"] == "explicitDeny"
    assert answer["EvalResourceName"] == "arn:repo"
    (unanswered,) = simulation_answers(results, ("ecr:GetDownloadUrlForLayer",), "x", alone=True)
    assert unanswered["EvalDecision"] == "implicitDeny"
    assert unanswered["MissingContextValues"]  # undetermined for the check, not allowed
