"""The project's cfn-lint rules (lint/cfn_rules): quiet on template.yaml, and each one fires on a
template that breaks it (a new function without a log group or an alarm, VpcConfig back in Globals)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sam_template import ROOT

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
