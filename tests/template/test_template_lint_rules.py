"""The project's cfn-lint rules (lint/cfn_rules): quiet on template.yaml (and on SAM's translation of
each deploy profile: the rehearsal in `make template`), and each one fires on a template that
breaks it (a new function without a log group or an alarm, VpcConfig back in Globals, an e-mail
sender limited to one identity, CORS without PATCH, a reservation of concurrency by default)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from sam_template import ROOT

from tools.rehearse import profiles, sam_document, translate, with_values

CFN_LINT = Path(sys.executable).with_name("cfn-lint")


def lint(template: Path) -> str:
    result = subprocess.run(
        [str(CFN_LINT), "--append-rules", str(ROOT / "lint/cfn_rules"), "--", str(template)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return result.stdout + result.stderr


def test_template_yaml_follows_the_rules() -> None:
    output = lint(ROOT / "template.yaml")
    assert "E910" not in output, output


def test_each_rule_fires_when_broken(tmp_path: Path) -> None:
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    # VpcConfig for every function again, as the template once had it.
    globals_vpc = (
        "    VpcConfig:\n"
        "      SubnetIds: !Ref VpcSubnetIds\n"
        "      SecurityGroupIds: !Ref VpcSecurityGroupIds\n"
    )
    text = text.replace(
        "    # No VpcConfig here: only the functions that use Redis go into the VPC (see their VpcConfig).\n",
        globals_vpc,
    )
    # A function that logs to Lambda's default group (kept forever) ...
    text = text.replace("      LoggingConfig:\n        LogGroup: !Ref EmailFunctionLogGroup\n", "")
    # ... and that nothing alarms on.
    text = text.replace("  EmailFunctionErrorsAlarm:\n", "  EmailFunctionErrorsAlarmGone:\n").replace(
        "          Value: !Ref EmailFunction\n", "          Value: !Ref AuthFunction\n"
    )
    broken = tmp_path / "template.yaml"
    broken.write_text(text, encoding="utf-8")

    output = lint(broken)

    assert "E9101 EmailFunction: no LoggingConfig.LogGroup" in output, output
    assert "E9102 EmailFunction: no alarm on its Errors metric" in output, output
    for function in ("AuthorizerFunction", "OrderEventsPublisherFunction", "EmailFunction"):
        assert f"E9103 {function} is in the VPC but does not use Redis" in output, output
    for function in ("AuthFunction", "ProductsFunction", "OrdersFunction"):
        assert f"E9103 {function} " not in output


# What main had before the deploy rehearsal: each one broke the first deploy on AWS.
SES_ANY_IDENTITY_FROM_THE_SENDER = (
    '              Resource: !Sub "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/*"\n'
    "              Condition:\n"
    "                StringEquals:\n"
    "                  ses:FromAddress: !Ref SenderEmail\n"
)
ONE_IDENTITY = '              Resource: !Sub "arn:aws:ses:us-east-1:1:identity/${SenderEmail}"\n'
CORS_METHODS = "        AllowMethods: \"'DELETE,GET,OPTIONS,PATCH,POST,PUT'\"\n"
RESERVED_DEFAULT = "    Default: 0\n    MinValue: 0\n    Description: >\n      Concurrency reserved"


def _broken_deploy_template() -> str:
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    for good, bad in (
        (SES_ANY_IDENTITY_FROM_THE_SENDER, ONE_IDENTITY),
        (CORS_METHODS, "        AllowMethods: \"'GET,POST,PUT,OPTIONS'\"\n"),
        (RESERVED_DEFAULT, RESERVED_DEFAULT.replace("Default: 0", "Default: 20")),
    ):
        assert good in text, good
        text = text.replace(good, bad, 1)
    return text


def test_the_rules_fire_on_the_deploy_defects_in_the_template_and_in_its_translation(tmp_path: Path) -> None:
    broken = tmp_path / "template.yaml"
    broken.write_text(_broken_deploy_template(), encoding="utf-8")
    translated = tmp_path / "translated.json"
    translated.write_text(json.dumps(translate(sam_document(broken))), encoding="utf-8")

    for output in (lint(broken), lint(translated)):
        assert "E9104" in output and "sends e-mail but not on identity/*" in output, output
        assert "E9104" in output and "sends e-mail without the condition ses:FromAddress" in output, output
        assert "E9105" in output and "CORS does not allow DELETE" in output, output
        assert "E9105" in output and "PATCH" in output, output
        assert "E9106 AuthorizerFunction reserves 20 concurrent executions" in output, output


def lint_all(templates: list[Path]) -> str:
    result = subprocess.run(
        [str(CFN_LINT), "--append-rules", str(ROOT / "lint/cfn_rules"), "--", *map(str, templates)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return result.stdout + result.stderr


def _profile_files(folder: Path, document: dict[str, Any], *names: str) -> dict[str, Path]:
    """SAM's translation of `document` for each deploy profile (or those named), as the rehearsal
    writes it."""
    files = {}
    for name, parameters in profiles().items():
        if names and name not in names:
            continue
        path = folder / f"{name}.json"
        translated = with_values(translate(document, parameters), parameters)
        path.write_text(json.dumps(translated), encoding="utf-8")
        files[name] = path
    return files


VPC_FUNCTIONS = ("AuthFunction", "ProductsFunction", "OrdersFunction")


def test_only_a_deploy_with_a_vpc_gives_the_functions_vpc_access(tmp_path: Path) -> None:
    """SAM adds AWSLambdaVPCAccessExecutionRole for any VpcConfig, an !If to AWS::NoValue included:
    in the profiles without subnets no role may keep it, in those with subnets the Redis functions
    need it to attach to the VPC. (cfn-lint's E9107 on these same translations is the rehearsal's:
    `make template` fails on it; the next test shows the rule fires.)"""
    files = _profile_files(tmp_path, sam_document())

    for name, path in files.items():
        template = json.loads(path.read_text(encoding="utf-8"))
        with_vpc = bool("".join(profiles()[name].get("VpcSubnetIds", "").split(",")))
        for function in VPC_FUNCTIONS:
            role = template["Resources"][f"{function}Role"]["Properties"]["ManagedPolicyArns"]
            vpc_arns = [arn for arn in role if "AWSLambdaVPCAccessExecutionRole" in json.dumps(arn)]
            assert len(vpc_arns) == 1, (name, function, role)
            # Only ever behind UseVpc, the condition the functions' VpcConfig uses.
            assert vpc_arns[0]["Fn::If"][0] == "UseVpc", (name, function, role)
            vpc_config = template["Resources"][function]["Properties"]["VpcConfig"]
            assert vpc_config["Fn::If"][0] == "UseVpc", (name, function, vpc_config)
        assert with_vpc == (name in ("readme", "elasticache-vpc")), name


def test_e9107_fires_on_vpc_access_without_a_vpc(tmp_path: Path) -> None:
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    arn = '!Sub "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"\n'
    conditional = f"        - !If\n          - UseVpc\n          - {arn}          - !Ref AWS::NoValue\n"
    assert text.count(conditional) == len(VPC_FUNCTIONS)
    # What SAM's generated role had: the policy whatever the condition.
    always = f"        - {arn}"
    broken = tmp_path / "template.yaml"
    broken.write_text(text.replace(conditional, always), encoding="utf-8")
    files = _profile_files(tmp_path, sam_document(broken), "tls-redis-no-vpc", "elasticache-vpc")

    output = lint_all([files["tls-redis-no-vpc"], files["elasticache-vpc"]])

    for function in VPC_FUNCTIONS:
        message = f"E9107 {function} has no VpcConfig in this deploy but its role {function}Role has VPC"
        assert message in output, output
        assert output.count(message) == 1, output  # the profile without a VPC, not the one with
