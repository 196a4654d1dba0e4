// Drives @aws-sdk/client-s3 v3 (+ lib-storage, s3-request-presigner) with default settings against smarts3
// and prints what it observed as one JSON document; tests/clients/test_js_sdk.py asserts on it.
// Input (environment): S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION, S3_BUCKET, S3_PAGED_BUCKET,
// S3_BIG_FILE, S3_TREE_KEYS, S3_TRICKY_KEYS (JSON arrays), S3_WRONG_SECRET.
import { createHash } from "node:crypto";
import { createReadStream, statSync } from "node:fs";
import {
  S3Client,
  CreateBucketCommand,
  PutObjectCommand,
  HeadObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  ListBucketsCommand,
  paginateListObjectsV2,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";

const env = process.env;
const bucket = env.S3_BUCKET;
const treeKeys = JSON.parse(env.S3_TREE_KEYS);
const trickyKeys = JSON.parse(env.S3_TRICKY_KEYS);

function client(secret) {
  return new S3Client({
    endpoint: env.S3_ENDPOINT,
    region: env.S3_REGION,
    forcePathStyle: true, // no wildcard DNS for <bucket>.127.0.0.1
    credentials: { accessKeyId: env.S3_ACCESS_KEY, secretAccessKey: secret },
  });
}

const s3 = client(env.S3_SECRET_KEY);
const out = { sdkVersion: (await import("@aws-sdk/client-s3/package.json", { with: { type: "json" } })).default.version };
const text = async (resp) => Buffer.from(await resp.Body.transformToByteArray());
const sha256 = (buf) => createHash("sha256").update(buf).digest("hex");

async function step(name, fn) {
  try {
    out[name] = await fn();
  } catch (err) {
    out[name] = { error: err.name, message: String(err.message), status: err.$metadata?.httpStatusCode };
  }
}

await step("createBucket", async () => (await s3.send(new CreateBucketCommand({ Bucket: bucket }))).$metadata.httpStatusCode);

const body = "hello from the JS SDK\n".repeat(300);
await step("putString", async () => {
  await s3.send(new PutObjectCommand({
    Bucket: bucket, Key: "doc.txt", Body: body, ContentType: "text/plain",
    Metadata: { color: "blue", project: "smarts3" },
  }));
  return "ok";
});
// a stream body: the SDK sends it aws-chunked with an x-amz-checksum-crc32 trailer, even over HTTP
await step("putStream", async () => {
  const path = env.S3_SMALL_FILE;
  await s3.send(new PutObjectCommand({
    Bucket: bucket, Key: "stream.bin", Body: createReadStream(path), ContentLength: statSync(path).size,
  }));
  const got = await text(await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "stream.bin" })));
  return { size: got.length, sha256: sha256(got) };
});
await step("head", async () => {
  const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "doc.txt" }));
  return { length: h.ContentLength, type: h.ContentType, metadata: h.Metadata };
});
await step("get", async () => (await text(await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "doc.txt" })))).toString() === body);
await step("range", async () => {
  const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "doc.txt", Range: "bytes=6-15" }));
  return { contentRange: r.ContentRange, body: (await text(r)).toString() };
});
await step("copy", async () => {
  await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: "copy.txt", CopySource: `${bucket}/doc.txt` }));
  const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "copy.txt" }));
  return { length: h.ContentLength, metadata: h.Metadata };
});

for (const key of treeKeys) {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
}
await step("delimited", async () => {
  const l = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "tree/", Delimiter: "/" }));
  return { prefixes: (l.CommonPrefixes ?? []).map((p) => p.Prefix), keys: (l.Contents ?? []).map((o) => o.Key) };
});
await step("pagedBy2", async () => {
  const keys = [];
  let pages = 0;
  for await (const page of paginateListObjectsV2({ client: s3, pageSize: 2 }, { Bucket: bucket, Prefix: "tree/" })) {
    pages += 1;
    keys.push(...(page.Contents ?? []).map((o) => o.Key));
  }
  return { pages, keys };
});
await step("pagedDefault", async () => {
  let pages = 0, count = 0;
  for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: env.S3_PAGED_BUCKET })) {
    pages += 1;
    count += page.KeyCount;
  }
  return { pages, count };
});

await step("tricky", async () => {
  const result = { listed: [], bodies: [], presigned: [] };
  for (const key of trickyKeys) {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
  }
  const l = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "" }));
  result.listed = (l.Contents ?? []).map((o) => o.Key).filter((k) => trickyKeys.includes(k));
  for (const key of trickyKeys) {
    result.bodies.push((await text(await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })))).toString());
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 300 });
    const resp = await fetch(url);
    result.presigned.push({ status: resp.status, body: await resp.text(), sigv4: url.includes("X-Amz-Signature=") });
  }
  await s3.send(new CopyObjectCommand({
    Bucket: bucket, Key: "copied/" + trickyKeys[0],
    CopySource: `${bucket}/${encodeURIComponent(trickyKeys[trickyKeys.length - 1])}`,
  }));
  result.copied = (await text(await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "copied/" + trickyKeys[0] })))).toString();
  return result;
});

await step("delete", async () => {
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: "doc.txt" }));
  // DeleteObjects: the SDK sends x-amz-checksum-crc32 and no Content-MD5
  const d = await s3.send(new DeleteObjectsCommand({
    Bucket: bucket, Delete: { Objects: [{ Key: "copy.txt" }, { Key: "stream.bin" }, { Key: "absent" }] },
  }));
  const l = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "" }));
  const left = (l.Contents ?? []).map((o) => o.Key);
  return { deleted: (d.Deleted ?? []).map((o) => o.Key).sort(), errors: d.Errors ?? [], left };
});

await step("multipart", async () => {
  const upload = new Upload({
    client: s3,
    params: { Bucket: bucket, Key: "big.bin", Body: createReadStream(env.S3_BIG_FILE), Metadata: { color: "blue" } },
  });
  let parts = 0;
  upload.on("httpUploadProgress", (p) => { if (p.part) parts = Math.max(parts, p.part); });
  await upload.done();
  const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "big.bin" }));
  const got = await text(await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "big.bin" })));
  return { parts, etag: h.ContentLength && h.ETag, length: h.ContentLength, metadata: h.Metadata, sha256: sha256(got) };
});

await step("wrongSecret", async () => {
  const bad = client(env.S3_WRONG_SECRET);
  const results = [];
  for (const command of [new ListBucketsCommand({}), new PutObjectCommand({ Bucket: bucket, Key: "nope", Body: "x" })]) {
    try {
      await bad.send(command);
      results.push({ error: null });
    } catch (err) {
      results.push({ error: err.name, status: err.$metadata?.httpStatusCode });
    }
  }
  return results;
});

process.stdout.write(JSON.stringify(out, null, 1));
