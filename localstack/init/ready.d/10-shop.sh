#!/bin/bash
# LocalStack READY hook: what the shop needs before `sam deploy --config-env localstack`.
# Runs inside the LocalStack container, where `awslocal` talks to LocalStack itself.
set -euo pipefail

SENDER_EMAIL="${SHOP_SENDER_EMAIL:-orders@example.com}"   # the template's SenderEmail
ARTIFACTS_BUCKET="${SHOP_ARTIFACTS_BUCKET:-shop-sam-artifacts}"   # samconfig.toml's s3_bucket

# SES only sends from verified identities (the e-mail function sends from SenderEmail).
awslocal ses verify-email-identity --email-address "$SENDER_EMAIL"

# Where `sam deploy` uploads the packaged functions and layer.
if ! awslocal s3api head-bucket --bucket "$ARTIFACTS_BUCKET" >/dev/null 2>&1; then
  awslocal s3api create-bucket --bucket "$ARTIFACTS_BUCKET" >/dev/null
fi

echo "shop: SES sender $SENDER_EMAIL verified, artifacts bucket $ARTIFACTS_BUCKET ready"
