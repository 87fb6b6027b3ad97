#!/bin/sh
# As in AWS's image: the handler is the first argument; outside Lambda (no AWS_LAMBDA_RUNTIME_API)
# the runtime runs under the emulator. sam local replaces this entry point with
# /var/rapid/aws-lambda-rie (and names the handler in _HANDLER), so it needs none of this.
if [ $# -ne 1 ]; then
  echo "entrypoint requires the handler name to be the first argument" 1>&2
  exit 142
fi
export _HANDLER="$1"
if [ -z "${AWS_LAMBDA_RUNTIME_API}" ]; then
  exec /usr/local/bin/aws-lambda-rie /var/runtime/bootstrap
fi
exec /var/runtime/bootstrap
