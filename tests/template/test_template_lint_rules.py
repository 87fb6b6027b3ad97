"""The project's cfn-lint rules (lint/cfn_rules): quiet on template.yaml (and on SAM's translation of
each deploy profile: the rehearsal in `make template`), and each one fires on a template that
breaks it (a new function without a log group or an alarm, VpcConfig back in Globals, an e-mail
sender limited to one identity, CORS without PATCH, a reservation of concurrency by default)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sam_template import ROOT

from tools.rehearse import sam_document, translate

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
