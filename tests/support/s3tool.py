#!/usr/bin/env python3
"""An independent S3 client (boto3) for the tests: what is really in the bucket.

usage: s3tool.py ENDPOINT KEY_ID SECRET BUCKET (list PREFIX | md5 KEY | uploads)
  list     one line per object: key size
  md5      the MD5 (hex) of the object's bytes, downloaded
  uploads  one line per open multipart upload: key upload_id
  checksum the object's stored CRC32C (x-amz-checksum-crc32c; "-N" for N parts), or nothing
  type     the object's Content-Type
"""
import hashlib
import sys

import boto3
from botocore.config import Config

endpoint, key_id, secret, bucket, cmd = sys.argv[1:6]
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key_id, aws_secret_access_key=secret,
                  region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))
if cmd == "list":
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=sys.argv[6] if len(sys.argv) > 6 else ""):
        for o in page.get("Contents", []):
            print(o["Key"], o["Size"])
elif cmd == "md5":
    h = hashlib.md5()
    for chunk in s3.get_object(Bucket=bucket, Key=sys.argv[6])["Body"].iter_chunks(1 << 20):
        h.update(chunk)
    print(h.hexdigest())
elif cmd == "checksum":
    print(s3.head_object(Bucket=bucket, Key=sys.argv[6], ChecksumMode="ENABLED").get("ChecksumCRC32C", ""))
elif cmd == "type":
    print(s3.head_object(Bucket=bucket, Key=sys.argv[6])["ContentType"])
elif cmd == "uploads":
    for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        print(u["Key"], u["UploadId"])
