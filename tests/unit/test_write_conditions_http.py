"""A write's If-None-Match takes only '*': S3 answers an ETag there with 501 NotImplemented (not 400), and writes
nothing (aws-sdk-ruby#3144: "A header you provided implies functionality that is not implemented")."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from smarts3.testing import running_server


def test_an_etag_in_a_writes_if_none_match_is_not_implemented(tmp_path_factory: pytest.TempPathFactory) -> None:
    with running_server(data_dir=tmp_path_factory.mktemp("data")) as server:
        s3 = server.client()
        s3.create_bucket(Bucket="conditions")
        etag = s3.put_object(Bucket="conditions", Key="k", Body=b"v1")["ETag"]
        for value in (etag, "somethingelse"):
            with pytest.raises(ClientError) as refused:
                s3.put_object(Bucket="conditions", Key="k", Body=b"v2", IfNoneMatch=value)
            assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
            assert refused.value.response["Error"]["Code"] == "NotImplemented"
        assert s3.get_object(Bucket="conditions", Key="k")["Body"].read() == b"v1"
        s3.put_object(Bucket="conditions", Key="new", Body=b"x", IfNoneMatch="*")  # '*' still creates
