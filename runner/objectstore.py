"""The S3-compatible object store (SeaweedFS locally, MinIO or S3 elsewhere), via the minio client."""

from __future__ import annotations

from minio import Minio

from runner.config import ObjectStoreConfig


def object_store(config: ObjectStoreConfig) -> Minio:
    """A client for the configured store, signing with its static credentials."""
    return Minio(
        config.host,
        access_key=config.access_key,
        secret_key=config.secret_key.get_secret_value(),
        secure=config.secure,
        region=config.region,
    )


def ensure_bucket(client: Minio, bucket: str) -> bool:
    """Creates the bucket unless it exists; True when it was created."""
    if client.bucket_exists(bucket):
        return False
    client.make_bucket(bucket)
    return True
