"""kill -9 at random moments while writers run: after a restart every key holds its last acknowledged state or
the state of the one request that was in flight, bodies whole, metadata from the same write, no leftovers.

Each key is owned by one writer thread, so per key there is exactly one acknowledged state and at most one
in-flight request: the oracle is exact. Copy sources are immutable seed objects written before the first kill.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from botocore.exceptions import BotoCoreError, ClientError

from reliakit import ServerProcess

pytestmark = pytest.mark.slow

BUCKET = "crash"
ROUNDS = 6
WRITERS = 4
KEYS_PER_WRITER = 4
PART = 64 * 1024  # min part size of the server under test
SEEDS = {"seed/small": 3000, "seed/large": 1_500_000, "seed/meta": 10}


@attrs.frozen
class State:
    """What a key holds: absent, or a body (by md5 and size) with the headers the same write set."""

    md5: str | None = None
    size: int = 0
    etag: str = ""
    content_type: str = ""
    meta: tuple[tuple[str, str], ...] = ()

    @property
    def absent(self) -> bool:
        return self.md5 is None


ABSENT = State()


def _body(rng: random.Random, size: int) -> bytes:
    return rng.randbytes(size)


def _state(body: bytes, etag: str, content_type: str, meta: dict[str, str]) -> State:
    return State(
        md5=hashlib.md5(body).hexdigest(),
        size=len(body),
        etag=etag,
        content_type=content_type,
        meta=tuple(sorted(meta.items())),
    )


def _multipart_etag(parts: list[bytes]) -> str:
    digests = b"".join(hashlib.md5(p).digest() for p in parts)
    return f"{hashlib.md5(digests).hexdigest()}-{len(parts)}"


@attrs.define
class Ledger:
    """Per key: the acknowledged state and the state of a request in flight (None when none)."""

    acked: dict[str, State]
    inflight: dict[str, State | None]
    #: upload id -> (key, acknowledged parts, the state its complete would give once attempted)
    open_uploads: dict[str, tuple[str, dict[int, str], list[State]]] = attrs.field(factory=dict)
    errors: list[str] = attrs.field(factory=list)
    counts: dict[str, int] = attrs.field(factory=dict)
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    def count(self, what: str) -> None:
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + 1


class Writer:
    def __init__(self, index: int, keys: list[str], client: Any, ledger: Ledger, seed: int) -> None:
        self.index, self.keys, self.s3, self.ledger = index, keys, client, ledger
        self.rng = random.Random(seed)
        self.seq = 0

    def run(self, stop: threading.Event) -> None:
        ops: list[Callable[[str], None]] = [
            self.put_small,
            self.put_small,
            self.put_large,
            self.multipart,
            self.copy,
            self.delete,
            self.delete_many,
        ]
        while not stop.is_set():
            key = self.rng.choice(self.keys)
            op = self.rng.choice(ops)
            try:
                op(key)
            except ClientError as exc:  # the server answered: an error here is a bug
                self.ledger.errors.append(f"{op.__name__} {key}: {exc}")
                return
            except BotoCoreError:  # connection refused/reset/closed: the server was killed
                return

    def _meta(self) -> tuple[str, dict[str, str]]:
        self.seq += 1
        return f"application/x-w{self.index}-{self.seq}", {"writer": str(self.index), "seq": str(self.seq)}

    def _write(self, key: str, state: State, call: Callable[[], Any], what: str) -> Any:
        self.ledger.inflight[key] = state
        result = call()
        self.ledger.acked[key] = state
        self.ledger.inflight[key] = None
        self.ledger.count(what)
        return result

    def _put(self, key: str, size: int, what: str) -> None:
        body = _body(self.rng, size)
        content_type, meta = self._meta()
        md5 = hashlib.md5(body)
        state = _state(body, md5.hexdigest(), content_type, meta)
        self._write(
            key,
            state,
            lambda: self.s3.put_object(
                Bucket=BUCKET,
                Key=key,
                Body=body,
                ContentType=content_type,
                Metadata=meta,
                ContentMD5=base64.b64encode(md5.digest()).decode(),
            ),
            what,
        )

    def put_small(self, key: str) -> None:
        self._put(key, self.rng.randint(0, 20_000), "put_small")

    def put_large(self, key: str) -> None:
        self._put(key, self.rng.randint(1 << 20, 4 << 20), "put_large")

    def multipart(self, key: str) -> None:
        content_type, meta = self._meta()
        upload = self.s3.create_multipart_upload(
            Bucket=BUCKET, Key=key, ContentType=content_type, Metadata=meta
        )
        upload_id = upload["UploadId"]
        parts = [_body(self.rng, PART + self.rng.randint(0, PART)) for _ in range(self.rng.randint(1, 2))]
        parts.append(_body(self.rng, self.rng.randint(1, PART)))
        done: dict[int, str] = {}
        completing: list[State] = []
        self.ledger.open_uploads[upload_id] = (key, done, completing)
        listed = []
        for number, part in enumerate(parts, 1):
            etag = self.s3.upload_part(
                Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=number, Body=part
            )["ETag"]
            assert etag.strip('"') == hashlib.md5(part).hexdigest()
            done[number] = etag.strip('"')
            listed.append({"PartNumber": number, "ETag": etag})
        whole = b"".join(parts)
        state = _state(whole, _multipart_etag(parts), content_type, meta)
        completing.append(state)
        self._write(
            key,
            state,
            lambda: self.s3.complete_multipart_upload(
                Bucket=BUCKET, Key=key, UploadId=upload_id, MultipartUpload={"Parts": listed}
            ),
            "multipart_complete",
        )
        self.ledger.open_uploads.pop(upload_id, None)

    def copy(self, key: str) -> None:
        source = self.rng.choice(sorted(SEEDS))
        seed = self.ledger.acked[source]
        if self.rng.random() < 0.5:
            self._write(
                key,
                seed,
                lambda: self.s3.copy_object(
                    Bucket=BUCKET, Key=key, CopySource={"Bucket": BUCKET, "Key": source}
                ),
                "copy",
            )
            return
        content_type, meta = self._meta()
        state = attrs.evolve(seed, content_type=content_type, meta=tuple(sorted(meta.items())))
        self._write(
            key,
            state,
            lambda: self.s3.copy_object(
                Bucket=BUCKET,
                Key=key,
                CopySource={"Bucket": BUCKET, "Key": source},
                MetadataDirective="REPLACE",
                ContentType=content_type,
                Metadata=meta,
            ),
            "copy_replace",
        )

    def delete(self, key: str) -> None:
        self._write(key, ABSENT, lambda: self.s3.delete_object(Bucket=BUCKET, Key=key), "delete")

    def delete_many(self, key: str) -> None:
        chosen = self.rng.sample(self.keys, self.rng.randint(1, len(self.keys)))
        for each in chosen:
            self.ledger.inflight[each] = ABSENT
        result = self.s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in chosen]})
        if result.get("Errors"):
            self.ledger.errors.append(f"DeleteObjects errors: {result['Errors']}")
        for each in chosen:
            self.ledger.acked[each] = ABSENT
            self.ledger.inflight[each] = None
        self.ledger.count("delete_objects")


def _observe(s3: Any, key: str) -> State:
    try:
        got = s3.get_object(Bucket=BUCKET, Key=key)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "NoSuchKey":
            return ABSENT
        raise
    body = got["Body"].read()
    assert len(body) == got["ContentLength"], key
    return _state(body, got["ETag"].strip('"'), got["ContentType"], dict(got["Metadata"]))


def _verify(s3: Any, ledger: Ledger, data_dir: Path) -> dict[str, int]:
    """Check every key against the ledger; make the observed state the new acknowledged one."""
    outcome = {"acked": 0, "inflight_applied": 0, "inflight_not_applied": 0}
    universe = set(ledger.acked)
    found: set[str] = set()
    for key in sorted(universe):
        seen = _observe(s3, key)
        if not seen.absent:
            # the body's md5 must be the ETag the write promised (single part) or the part-md5 ETag (multipart)
            assert seen.md5 is not None
            if "-" not in seen.etag:
                assert seen.etag == seen.md5, (key, seen)
            found.add(key)
            head = s3.head_object(Bucket=BUCKET, Key=key)
            assert head["ContentLength"] == seen.size and head["ETag"].strip('"') == seen.etag, key
        else:
            with pytest.raises(ClientError):
                s3.head_object(Bucket=BUCKET, Key=key)
        acked, inflight = ledger.acked[key], ledger.inflight.get(key)
        allowed = [acked] + ([inflight] if inflight is not None else [])
        assert seen in allowed, f"{key}: holds {seen}, allowed {allowed}"
        if inflight is not None and inflight != acked:
            outcome["inflight_applied" if seen == inflight else "inflight_not_applied"] += 1
        else:
            outcome["acked"] += 1
        ledger.acked[key] = seen
        ledger.inflight[key] = None
    listed: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            listed.add(item["Key"])
            if item["Key"] in found:
                assert item["ETag"].strip('"') == ledger.acked[item["Key"]].etag, item
                assert item["Size"] == ledger.acked[item["Key"]].size, item
    assert listed == found, f"listed but not found: {listed - found}; found but not listed: {found - listed}"
    # interrupted uploads survive the restart with every acknowledged part; then they are aborted
    for upload_id, (key, parts, completing) in list(ledger.open_uploads.items()):
        try:
            listed_parts = s3.list_parts(Bucket=BUCKET, Key=key, UploadId=upload_id).get("Parts", [])
        except ClientError as exc:
            # only a complete that went through may have consumed the upload
            assert exc.response["Error"]["Code"] == "NoSuchUpload", exc
            assert completing and ledger.acked[key] == completing[0], (upload_id, key)
            continue
        have = {p["PartNumber"]: p["ETag"].strip('"') for p in listed_parts}
        for number, etag in parts.items():
            assert have.get(number) == etag, (upload_id, number)
        s3.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload_id)
        outcome["uploads_kept"] = outcome.get("uploads_kept", 0) + 1
    ledger.open_uploads.clear()
    # start-up removed the temps of the killed writer; nothing else writes now
    leftovers = [p.name for p in (data_dir / ".smarts3" / "tmp").iterdir()]
    assert leftovers == [], leftovers
    return outcome


@pytest.mark.parametrize(("fsync", "rounds"), [(True, ROUNDS), (False, 3)], ids=["fsync", "no-fsync"])
def test_sigkill_at_random_moments_loses_or_tears_nothing(tmp_path: Path, fsync: bool, rounds: int) -> None:
    """With fsync off too: a process crash (unlike a power loss) keeps everything the kernel was handed."""
    seed = int(os.environ.get("SMARTS3_CRASH_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    server = ServerProcess(data_dir, fsync=fsync, env={"SMARTS3_LIMITS_MIN_PART_SIZE": str(PART)})
    keys = [
        [f"w{w}/k{i}" if i % 2 else f"w{w}-flat-{i}" for i in range(KEYS_PER_WRITER)] for w in range(WRITERS)
    ]
    ledger = Ledger(acked={k: ABSENT for group in keys for k in group}, inflight={})
    totals: dict[str, int] = {}
    started = time.monotonic()
    server.start()
    try:
        s3 = server.client()
        s3.create_bucket(Bucket=BUCKET)
        for name, size in SEEDS.items():
            body = _body(rng, size)
            meta = {"seed": name}
            s3.put_object(Bucket=BUCKET, Key=name, Body=body, ContentType="application/seed", Metadata=meta)
            ledger.acked[name] = _state(body, hashlib.md5(body).hexdigest(), "application/seed", meta)
        for round_no in range(rounds):
            stop = threading.Event()
            writers = [
                Writer(w, keys[w], server.client(), ledger, rng.randrange(1 << 30)) for w in range(WRITERS)
            ]
            threads = [threading.Thread(target=w.run, args=(stop,), daemon=True) for w in writers]
            for thread in threads:
                thread.start()
            time.sleep(rng.uniform(0.4, 2.5))
            server.kill()
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
                assert not thread.is_alive()
            assert ledger.errors == [], f"seed {seed}: {ledger.errors}"
            server.start()
            outcome = _verify(server.client(), ledger, data_dir)
            for name, value in outcome.items():
                totals[name] = totals.get(name, 0) + value
            print(f"round {round_no}: {outcome}")
    finally:
        server.kill()
    writes = sum(ledger.counts.values())
    print(
        f"seed {seed}: fsync={fsync}: {rounds} kill rounds, {writes} acknowledged writes {dict(ledger.counts)}, checks {totals}"
    )
    assert writes > rounds * 5, "the writers hardly ran: the test proves nothing"
    assert time.monotonic() - started < 120
