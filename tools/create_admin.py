"""Make the first staff account of a deployed stack, or promote an existing user (issue 24, item 4).

Run with the operator's own AWS credentials (the usual boto3 chain: AWS_PROFILE, environment,
SSO ...), never with the functions' roles:

    make create-admin STACK=shop USERNAME=alice EMAIL=alice@example.com
    .venv/bin/python tools/create_admin.py --stack-name shop --username alice --email alice@example.com
    printf '%s\\n' "$PASSWORD" | .venv/bin/python tools/create_admin.py ... --password-stdin

What it does:
1. CloudFormation DescribeStacks on the stack: its `UsersTableName` output (and its region).
2. If the username exists: it becomes an active admin (the auth function's own code,
   `auth_profiles.make_admin`); its password, e-mail and sessions stay.
   Otherwise a new user is created with the auth function's own code (`auth_service.register`:
   the same item layout, uniqueness guards, password rule and hash), role `admin`, e-mail
   verified. Running it again changes nothing (idempotent).
3. The password (new accounts only) is read from a prompt (twice, not echoed) or one line of
   stdin with `--password-stdin`: never from the command line (visible in `ps` and the shell
   history) and never printed or logged.

The new admin logs in as any user does (`POST /auth/login`); their token carries `role: admin`.
A promoted user's tokens issued before still say `customer` until they log in again.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any

import boto3

USERS_TABLE_OUTPUT = "UsersTableName"


class Refused(Exception):
    """Something the operator must fix (stack, outputs, password): printed without a traceback."""


def stack_outputs(stack_name: str, region: str | None) -> dict[str, str]:
    cloudformation = boto3.client("cloudformation", region_name=region)
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except cloudformation.exceptions.ClientError as exc:
        raise Refused(f"stack {stack_name!r}: {exc.response['Error'].get('Message', exc)}") from exc
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs") or []}
    if USERS_TABLE_OUTPUT not in outputs:
        raise Refused(f"stack {stack_name!r} has no {USERS_TABLE_OUTPUT} output: is it this shop's stack?")
    return outputs


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password for the new admin: ")
        if getpass.getpass("The same password again: ") != password:
            raise Refused("the two passwords differ")
    if not password:
        raise Refused("no password given")
    return password


def use_table(table_name: str, region: str | None) -> None:
    """Point the auth function's code at the stack's table, as its environment does on Lambda."""
    os.environ["USERS_TABLE"] = table_name
    if region:
        os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = region
    from shop_shared.config import get_settings

    get_settings.cache_clear()


def promote(username: str) -> str | None:
    """Make an existing user an active admin (`auth_profiles.make_admin`: the operator's AWS
    credentials are the authority here, not an admin's token); their id, or None when there is no
    such user."""
    import auth_profiles
    from auth_adapters import adapters

    user_id = adapters().users.user_id_for_username(username)
    if user_id is None or auth_profiles.make_admin(user_id) is None:
        return None
    return user_id


def create(args: argparse.Namespace, password: str) -> str:
    from pydantic import ValidationError

    import auth_service
    from shop_shared.errors import ApiError
    from shop_shared.models import RegisterRequest

    try:
        request = RegisterRequest(
            username=args.username,
            email=args.email,
            first_name=args.first_name,
            last_name=args.last_name,
            password=password,
        )
        return auth_service.register(request, role="admin", verified=True).id
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_input=False)
        )
        raise Refused(problems) from None
    except ApiError as exc:  # weak_password, email_taken, username_taken (a racing creation)
        raise Refused(f"{exc.code}: {exc.message}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack-name", default="shop", help="the deployed stack (samconfig.toml: shop)")
    parser.add_argument("--region", default=None, help="its region (default: your AWS configuration's)")
    parser.add_argument("--username", required=True)
    parser.add_argument("--email", help="needed to create the account (not to promote one)")
    parser.add_argument("--first-name", default="Shop")
    parser.add_argument("--last-name", default="Staff")
    parser.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    args = parser.parse_args(argv)
    try:
        outputs = stack_outputs(args.stack_name, args.region)
        use_table(outputs[USERS_TABLE_OUTPUT], args.region)
        user_id = promote(args.username)
        if user_id is not None:
            print(f"{args.username} ({user_id}) is an admin of {args.stack_name}")
            return 0
        if not args.email:
            raise Refused(f"no user {args.username!r} yet: give --email to create one")
        user_id = create(args, read_password(args.password_stdin))
    except Refused as exc:
        print(f"create-admin: {exc}", file=sys.stderr)
        return 2
    print(f"created admin {args.username} ({user_id}) in {args.stack_name}; log in as any user does")
    return 0


def _run() -> Any:  # pragma: no cover - the command line
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    _run()
