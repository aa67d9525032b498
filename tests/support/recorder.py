"""Every AWS request a piece of code makes, with who made it, for the permission replay.

Patches botocore's `BaseClient._make_api_call`, so every client counts: the monitor's own,
the ones Powertools' Parameters providers make, the STS client that assumes target roles.
The caller is told by the request's access key: the base credentials are `base_principal`;
credentials an AssumeRole returned are that role's.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from support.authorization import Request

DEFAULT_ACCOUNT = "123456789012"  # moto's


class Recorder:
    def __init__(self, base_principal: str, base_account: str = DEFAULT_ACCOUNT) -> None:
        self.base_principal = base_principal
        self.base_account = base_account
        self.requests: list[Request] = []
        self._roles: dict[str, str] = {}  # access key id -> assumed role ARN
        self._lock = threading.Lock()

    def _caller(self, client: BaseClient) -> tuple[str, str]:
        credentials = client._request_signer._credentials
        key = credentials.get_frozen_credentials().access_key if credentials else None
        role = self._roles.get(key or "")
        if role is None:
            return self.base_principal, self.base_account
        return role, role.split(":")[4]

    def _record(
        self,
        client: BaseClient,
        operation: str,
        params: dict[str, Any],
        response: dict[str, Any],
        error: str,
    ) -> None:
        principal, account = self._caller(client)
        service = client.meta.service_model.service_name
        request = Request(
            service=service,
            operation=operation,
            params=dict(params),
            region=client.meta.region_name or "",
            account=account,
            principal=principal,
            response=response,
            error=error,
        )
        with self._lock:
            self.requests.append(request)
            if request.name == "sts:AssumeRole" and not error:
                self._roles[response["Credentials"]["AccessKeyId"]] = params["RoleArn"]

    @contextmanager
    def active(self) -> Iterator[Recorder]:
        original = BaseClient._make_api_call
        recorder = self

        def recording(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
            try:
                response = original(client, operation, params)
            except ClientError as exc:
                recorder._record(client, operation, params, {}, exc.response["Error"]["Code"])
                raise
            recorder._record(client, operation, params, response, "")
            return response

        BaseClient._make_api_call = recording  # type: ignore[method-assign]
        try:
            yield self
        finally:
            BaseClient._make_api_call = original  # type: ignore[method-assign]
