"""Every alert rule links to its runbook section, and each section says what it means, how to confirm, what to do."""

from __future__ import annotations

import re

import yaml
from deploy_support import PYPROJECT
from prom_harness import REPO, RULES

RUNBOOK = REPO / "docs" / "operations.md"


def slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def sections() -> dict[str, str]:
    """anchor -> the text under that heading (up to the next heading)."""
    parts = re.split(r"^#{2,4} (.+)$", RUNBOOK.read_text(), flags=re.M)
    return {slug(title): body for title, body in zip(parts[1::2], parts[2::2], strict=True)}


def test_every_rule_links_to_its_own_runbook_section():
    rules = [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]
    assert len(rules) == 12
    base = PYPROJECT["project"]["urls"]["Source"] + "/blob/main/docs/operations.md#"
    found = sections()
    for rule in rules:
        url = rule["annotations"]["runbook_url"]
        assert url == base + slug(rule["alert"]), url
        body = found[slug(rule["alert"])]
        for part in ("**Means.**", "**Confirm.**", "**Do.**"):
            assert part in body, f"{rule['alert']}: no {part}"


def test_runbook_has_the_procedures():
    found = sections()
    for procedure in ("Model rollback", "Scaling out", "Replaying from an offset", "Rotating the snapshot key",
                      "Rotating review tokens"):
        assert slug(procedure) in found, procedure
    for link in re.findall(r"\]\(#([^)]+)\)", RUNBOOK.read_text()):
        assert link in found, f"broken link #{link}"
