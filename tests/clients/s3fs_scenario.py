"""Drive s3fs (fsspec, on aiobotocore) with default settings against smarts3; print what it saw as JSON.

Runs in the s3fs virtualenv (tests/clients/.venv-s3fs): aiobotocore pins an older botocore than the newest boto3
the main environment tests, so s3fs cannot share it. Input: one JSON object on argv[1] (see test_s3fs.py).
"""

from __future__ import annotations

import hashlib
import json
import ssl
import sys
import urllib.request
from typing import Any

import s3fs


def main(spec: dict[str, Any]) -> dict[str, Any]:
    ca = spec["ca_file"]
    client_kwargs = {"endpoint_url": spec["endpoint"], "region_name": spec["region"]}
    if ca:
        client_kwargs["verify"] = ca

    def filesystem(secret: str) -> s3fs.S3FileSystem:
        return s3fs.S3FileSystem(key=spec["access_key"], secret=secret, client_kwargs=client_kwargs,
                                 skip_instance_cache=True)

    def fetch(url: str) -> bytes:
        context = ssl.create_default_context(cafile=ca) if ca else None
        with urllib.request.urlopen(url, context=context, timeout=10) as resp:
            return resp.read()  # type: ignore[no-any-return]

    fs = filesystem(spec["secret_key"])
    bucket = spec["bucket"]
    out: dict[str, Any] = {"version": s3fs.__version__}
    body = b"hello from s3fs\n" * 700

    fs.mkdir(bucket)
    fs.pipe(f"{bucket}/doc.txt", body, Metadata=spec["metadata"], ContentType="text/plain")
    info = fs.info(f"{bucket}/doc.txt")
    out["head"] = {"size": info["size"], "type": info.get("ContentType"), "metadata": fs.metadata(f"{bucket}/doc.txt")}
    out["get"] = fs.cat(f"{bucket}/doc.txt") == body
    out["range"] = fs.cat_file(f"{bucket}/doc.txt", start=6, end=16).decode()
    with fs.open(f"{bucket}/doc.txt", "rb") as fh:
        fh.seek(100)
        out["seek_read"] = fh.read(5) == body[100:105]
    fs.copy(f"{bucket}/doc.txt", f"{bucket}/copy.txt")
    out["copy"] = {"same": fs.cat(f"{bucket}/copy.txt") == body, "metadata": fs.metadata(f"{bucket}/copy.txt")}
    out["presigned"] = fetch(fs.url(f"{bucket}/doc.txt", expires=300)) == body

    for key in spec["tree_keys"]:
        fs.pipe(f"{bucket}/{key}", key.encode())
    shallow = fs.ls(f"{bucket}/tree/", detail=True)
    out["delimited"] = {
        "dirs": sorted(e["name"] for e in shallow if e["type"] == "directory"),
        "files": sorted(e["name"] for e in shallow if e["type"] == "file"),
    }
    out["paged"] = len(fs.find(spec["paged_bucket"]))

    for key in spec["tricky_keys"]:
        fs.pipe(f"{bucket}/tricky/{key}", key.encode())
    fs.invalidate_cache()
    out["tricky_listed"] = sorted(p[len(f"{bucket}/tricky/"):] for p in fs.find(f"{bucket}/tricky/"))
    out["tricky_bodies"] = [fs.cat(f"{bucket}/tricky/{key}").decode() for key in spec["tricky_keys"]]
    out["tricky_presigned"] = [fetch(fs.url(f"{bucket}/tricky/{key}")).decode() for key in spec["tricky_keys"]]

    fs.rm(f"{bucket}/doc.txt")
    fs.invalidate_cache()
    out["deleted_exists"] = fs.exists(f"{bucket}/doc.txt")
    fs.rm([f"{bucket}/copy.txt", *(f"{bucket}/{k}" for k in spec["tree_keys"])])  # DeleteObjects
    fs.invalidate_cache()
    out["left_after_rm"] = sorted(p[len(bucket) + 1:] for p in fs.find(bucket) if "/tricky/" not in p)

    # block_size is s3fs's per-file part size (default 50 MiB): 5 MiB makes a ~21 MiB write multipart
    with open(spec["big_file"], "rb") as src, fs.open(f"{bucket}/big.bin", "wb", block_size=5 * 2**20) as dst:
        for chunk in iter(lambda: src.read(1 << 20), b""):
            dst.write(chunk)
    big = fs.info(f"{bucket}/big.bin")
    digest = hashlib.sha256()
    with fs.open(f"{bucket}/big.bin", "rb") as fh:
        while chunk := fh.read(1 << 22):
            digest.update(chunk)
    out["multipart"] = {"size": big["size"], "etag": big["ETag"], "sha256": digest.hexdigest()}

    bad = filesystem(spec["wrong_secret"])
    errors = []
    for action in (lambda: bad.ls(bucket), lambda: bad.pipe(f"{bucket}/nope", b"x")):
        try:
            action()
            errors.append(None)
        except Exception as exc:  # s3fs maps 403 to PermissionError, chained from botocore's ClientError
            code = getattr(exc.__cause__, "response", {}).get("Error", {}).get("Code")
            errors.append(f"{type(exc).__name__}: {code}: {exc}")
    out["wrong_secret"] = errors
    return out


if __name__ == "__main__":
    json.dump(main(json.loads(sys.argv[1])), sys.stdout)
