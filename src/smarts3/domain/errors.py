"""The domain's exception hierarchy.

Every class carries its S3 error code and HTTP status (S3 API reference, "Error responses"), so the HTTP edge
translates any of them to an S3 XML error document in exactly one place.
"""

from __future__ import annotations

from collections.abc import Mapping


class S3Error(Exception):
    """Base of every error a client may see. Subclasses set ``code``, ``status`` and a default message."""

    code: str = "InternalError"
    status: int = 500
    default_message: str = "We encountered an internal error. Please try again."

    def __init__(
        self,
        message: str | None = None,
        *,
        resource: str | None = None,
        extra: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.resource = resource
        #: additional child elements of <Error> (e.g. BucketName, Key, StringToSign)
        self.extra: dict[str, str] = dict(extra or {})
        #: additional response headers (e.g. x-amz-delete-marker)
        self.headers: dict[str, str] = dict(headers or {})
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}: {self.message!r})"


class InternalError(S3Error):
    pass


# --- 400 ---------------------------------------------------------------------------------------------
class InvalidArgument(S3Error):
    code, status, default_message = "InvalidArgument", 400, "Invalid Argument"


class InvalidBucketName(S3Error):
    code, status, default_message = "InvalidBucketName", 400, "The specified bucket is not valid."


class KeyTooLongError(S3Error):
    code, status, default_message = "KeyTooLongError", 400, "Your key is too long"


class InvalidObjectName(InvalidArgument):
    code, status, default_message = "InvalidArgument", 400, "Object name contains unsupported characters."


class MalformedXML(S3Error):
    code, status = "MalformedXML", 400
    default_message = (
        "The XML you provided was not well-formed or did not validate against our published schema."
    )


class MalformedACLError(S3Error):
    code, status = "MalformedACLError", 400
    default_message = (
        "The XML you provided was not well-formed or did not validate against our published schema."
    )


class UnresolvableGrantByEmailAddress(S3Error):
    code, status = "UnresolvableGrantByEmailAddress", 400
    default_message = "The e-mail address you provided does not match any account on record."


class MalformedPolicy(S3Error):
    code, status = "MalformedPolicy", 400
    default_message = "Policies must be valid JSON and the first byte must be '{'"


class InvalidDigest(S3Error):
    code, status, default_message = "InvalidDigest", 400, "The Content-MD5 you specified was invalid."


class BadDigest(S3Error):
    code, status = "BadDigest", 400
    default_message = "The Content-MD5 you specified did not match what we received."


class XAmzContentSHA256Mismatch(S3Error):
    code, status = "XAmzContentSHA256Mismatch", 400
    default_message = "The provided 'x-amz-content-sha256' header does not match what was computed."


class InvalidRequest(S3Error):
    code, status, default_message = "InvalidRequest", 400, "Invalid Request"


class InvalidBucketState(S3Error):
    code, status, default_message = (
        "InvalidBucketState",
        409,
        "The request is not valid with the current state of the bucket.",
    )


class InvalidRetentionPeriod(S3Error):
    code, status = "InvalidRetentionPeriod", 400
    default_message = "Default retention period must be a positive integer value."


class EntityTooSmall(S3Error):
    code, status = "EntityTooSmall", 400
    default_message = "Your proposed upload is smaller than the minimum allowed object size."


class EntityTooLarge(S3Error):
    code, status = "EntityTooLarge", 400
    default_message = "Your proposed upload exceeds the maximum allowed object size."


class MetadataTooLarge(S3Error):
    code, status = "MetadataTooLarge", 400
    default_message = "Your metadata headers exceed the maximum allowed metadata size."


class InvalidPart(S3Error):
    code, status = "InvalidPart", 400
    default_message = (
        "One or more of the specified parts could not be found. The part may not have been uploaded, "
        "or the specified entity tag may not match the part's entity tag."
    )


class InvalidPartOrder(S3Error):
    code, status = "InvalidPartOrder", 400
    default_message = "The list of parts was not in ascending order. Parts must be ordered by part number."


class IncompleteBody(S3Error):
    code, status = "IncompleteBody", 400
    default_message = "You did not provide the number of bytes specified by the Content-Length HTTP header."


class RequestHeaderSectionTooLarge(S3Error):
    code, status = "RequestHeaderSectionTooLarge", 400
    default_message = "Your request header section exceeds the maximum allowed size."


class RequestTimeout(S3Error):
    code, status = "RequestTimeout", 400
    default_message = (
        "Your socket connection to the server was not read from or written to within the timeout period."
    )


class InvalidTag(S3Error):
    code, status, default_message = "InvalidTag", 400, "The TagValue you have provided is invalid"


class InvalidStorageClass(S3Error):
    code, status, default_message = "InvalidStorageClass", 400, "The storage class you specified is not valid"


class MissingContentLength(S3Error):
    code, status, default_message = (
        "MissingContentLength",
        411,
        "You must provide the Content-Length HTTP header.",
    )


class InvalidLocationConstraint(S3Error):
    code, status, default_message = (
        "InvalidLocationConstraint",
        400,
        "The specified location-constraint is not valid",
    )


class InvalidEncryptionAlgorithmError(S3Error):
    code, status = "InvalidEncryptionAlgorithmError", 400
    default_message = "The encryption request you specified is not valid."


class InvalidChunkSizeError(S3Error):
    code, status = "InvalidChunkSizeError", 403
    default_message = "Only the last chunk is allowed to have a size less than 8192 bytes"


class AuthorizationHeaderMalformed(S3Error):
    code, status, default_message = (
        "AuthorizationHeaderMalformed",
        400,
        "The authorization header is malformed.",
    )


class AuthorizationQueryParametersError(S3Error):
    code, status = "AuthorizationQueryParametersError", 400
    default_message = "Query-string authentication requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."


class RequestTimeTooSkewed(S3Error):
    code, status = "RequestTimeTooSkewed", 403
    default_message = "The difference between the request time and the current time is too large."


class InvalidPolicyDocument(S3Error):
    code, status, default_message = (
        "InvalidPolicyDocument",
        400,
        "The content of the form does not meet the conditions specified in the policy document.",
    )


class IllegalVersioningConfigurationException(S3Error):
    code, status = "IllegalVersioningConfigurationException", 400
    default_message = "The versioning configuration specified in the request is invalid."


class ObjectLockConfigurationNotFoundError(S3Error):
    code, status = "ObjectLockConfigurationNotFoundError", 404
    default_message = "Object Lock configuration does not exist for this bucket"


class MissingSecurityHeader(S3Error):
    code, status, default_message = "MissingSecurityHeader", 400, "Your request is missing a required header."


class InvalidToken(S3Error):
    code, status, default_message = "InvalidArgument", 400, "The continuation token provided is incorrect"


class ParentIsObject(S3Error):
    """A key needs a directory where the filesystem already holds an object (``a`` exists, ``a/b`` is put)."""

    code, status = "XMinioParentIsObject", 409
    default_message = "Object-prefix is already an object, please choose a different object-prefix name."


class ObjectExistsAsDirectory(S3Error):
    """A key names a directory that holds other objects (``a/b`` exists, ``a`` is put)."""

    code, status = "XMinioObjectExistsAsDirectory", 409
    default_message = "Object name already exists as a directory."


# --- 403 / 404 / 405 / 409 / 412 / 416 ---------------------------------------------------------------
class AccessDenied(S3Error):
    code, status, default_message = "AccessDenied", 403, "Access Denied"


class SignatureDoesNotMatch(S3Error):
    code, status = "SignatureDoesNotMatch", 403
    default_message = (
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method."
    )


class InvalidAccessKeyId(S3Error):
    code, status = "InvalidAccessKeyId", 403
    default_message = "The AWS Access Key Id you provided does not exist in our records."


class NoSuchBucket(S3Error):
    code, status, default_message = "NoSuchBucket", 404, "The specified bucket does not exist"


class NoSuchKey(S3Error):
    code, status, default_message = "NoSuchKey", 404, "The specified key does not exist."


class NoSuchVersion(S3Error):
    code, status = "NoSuchVersion", 404
    default_message = "The specified version does not exist."


class NoSuchUpload(S3Error):
    code, status = "NoSuchUpload", 404
    default_message = (
        "The specified multipart upload does not exist. The upload ID may be invalid, "
        "or the upload may have been aborted or completed."
    )


class NoSuchCORSConfiguration(S3Error):
    code, status, default_message = "NoSuchCORSConfiguration", 404, "The CORS configuration does not exist"


class NoSuchTagSet(S3Error):
    code, status, default_message = "NoSuchTagSet", 404, "The TagSet does not exist"


class NoSuchLifecycleConfiguration(S3Error):
    code, status, default_message = (
        "NoSuchLifecycleConfiguration",
        404,
        "The lifecycle configuration does not exist",
    )


class NoSuchPublicAccessBlockConfiguration(S3Error):
    code, status = "NoSuchPublicAccessBlockConfiguration", 404
    default_message = "The public access block configuration was not found"


class NoSuchBucketPolicy(S3Error):
    code, status, default_message = "NoSuchBucketPolicy", 404, "The bucket policy does not exist"


class NoSuchObjectLockConfiguration(S3Error):
    code, status = "NoSuchObjectLockConfiguration", 404
    default_message = "The specified object does not have a ObjectLock configuration"


class MethodNotAllowed(S3Error):
    code, status = "MethodNotAllowed", 405
    default_message = "The specified method is not allowed against this resource."


class BucketAlreadyOwnedByYou(S3Error):
    code, status = "BucketAlreadyOwnedByYou", 409
    default_message = "Your previous request to create the named bucket succeeded and you already own it."


class BucketAlreadyExists(S3Error):
    code, status = "BucketAlreadyExists", 409
    default_message = "The requested bucket name is not available."


class BucketNotEmpty(S3Error):
    code, status, default_message = "BucketNotEmpty", 409, "The bucket you tried to delete is not empty"


class OperationAborted(S3Error):
    code, status = "OperationAborted", 409
    default_message = "A conflicting conditional operation is currently in progress against this resource."


class ConditionalRequestConflict(S3Error):
    code, status = "ConditionalRequestConflict", 409
    default_message = "A conflicting operation occurred. If using PutObject you can retry the request."


class InvalidObjectState(S3Error):
    code, status = "InvalidObjectState", 403
    default_message = "The operation is not valid for the object's storage class"


class PreconditionFailed(S3Error):
    code, status = "PreconditionFailed", 412
    default_message = "At least one of the pre-conditions you specified did not hold"


class NotModified(S3Error):
    """Not an error to S3 clients: answered as a bare 304. Raised so the edge has a single exit path."""

    code, status, default_message = "NotModified", 304, "Not Modified"


class InvalidRange(S3Error):
    code, status, default_message = "InvalidRange", 416, "The requested range is not satisfiable"


class ContentLengthRequired(S3Error):
    code, status, default_message = (
        "MissingContentLength",
        411,
        "You must provide the Content-Length HTTP header.",
    )


# --- 5xx -----------------------------------------------------------------------------------------------
class NotImplementedS3(S3Error):
    code, status = "NotImplemented", 501
    default_message = "A header or query you provided implies functionality that is not implemented."


class ServiceUnavailable(S3Error):
    code, status = "ServiceUnavailable", 503
    default_message = "Please reduce your request rate."


class InsufficientStorage(S3Error):
    """The disk is full, read-only or failing. MinIO answers 507 XMinioStorageFull; we do the same."""

    code, status = "XMinioStorageFull", 507
    default_message = "Storage backend has reached its minimum free drive threshold or cannot be written to."


class SlowDown(S3Error):
    code, status, default_message = "SlowDown", 503, "Please reduce your request rate."


class InvalidPartNumber(S3Error):
    code, status, default_message = "InvalidPartNumber", 416, "The requested partnumber is not satisfiable"
