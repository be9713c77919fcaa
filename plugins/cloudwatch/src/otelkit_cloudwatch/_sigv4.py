"""SigV4 signing of the OTLP/HTTP exporters' requests, with botocore's credentials chain."""

from __future__ import annotations

from typing import Any

import requests
from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]

# Headers a transport may add or rewrite after signing: never part of the signature.
_UNSIGNED = frozenset({"user-agent", "content-length", "connection", "accept-encoding", "accept"})


class SigV4RequestsAuth(requests.auth.AuthBase):
    """A ``requests`` auth hook that signs each request (body included) with SigV4.

    ``credentials`` is a botocore credentials object; it is frozen per request, so refreshed
    credentials (an instance role, SSO) are picked up without rebuilding the exporter.
    """

    def __init__(self, credentials: Any, service: str, region: str) -> None:
        self.credentials = credentials
        self.service = service
        self.region = region

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        signed_headers = {k: v for k, v in request.headers.items() if k.lower() not in _UNSIGNED}
        aws_request = AWSRequest(
            method=request.method or "POST",
            url=request.url,
            data=body or b"",
            headers=signed_headers,
        )
        SigV4Auth(self.credentials.get_frozen_credentials(), self.service, self.region).add_auth(
            aws_request
        )
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            if name in aws_request.headers:
                request.headers[name] = aws_request.headers[name]
        return request


def signed_session(credentials: Any, service: str, region: str) -> requests.Session:
    session = requests.Session()
    session.auth = SigV4RequestsAuth(credentials, service, region)
    return session
