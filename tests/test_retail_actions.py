"""The retail sample's actions: VIP coupons and the tier-up mail, on a copy of rulesets/."""

from __future__ import annotations

import email
import email.policy
import shutil

from tests.conftest import REPO
from tests.shop import run_shop


def test_retail_tier_up_mail_and_vip_coupons(tmp_path, monkeypatch):
    monkeypatch.delenv("TIERS_STATE_URL", raising=False)
    shutil.copytree(REPO / "rulesets", tmp_path / "rulesets",
                    ignore=shutil.ignore_patterns(".tiers"))
    ruleset = tmp_path / "rulesets" / "retail.yaml"
    first = run_shop(ruleset, True, as_of="2026-06-01")
    second = run_shop(ruleset, True)  # the ruleset's as-of, 2026-11-21: some move up
    stats = {a.action: a for a in second.applied.actions}
    upgraded = second.event_counts["upgraded"]
    assert upgraded > 0 and stats["tier_up_email"].done == upgraded
    assert stats["vip_exclusive"].failed == 0 and first.applied.failed == 0
    mails = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
             for p in (tmp_path / "rulesets" / ".tiers" / "outbox").glob("*.eml")]
    assert len(mails) == upgraded
    subjects = [m["Subject"] for m in mails]
    assert all("恭喜升级为" in s or ", welcome to " in s for s in subjects)  # zh-CN / en
    assert any("恭喜升级为" in s for s in subjects)
    text = mails[0].get_body(("plain",)).get_content()
    assert "CNY" in text or "元" in text
    exports = sorted(p.name for p in (tmp_path / "rulesets" / ".tiers" / "exports").iterdir())
    assert "vip_exclusive-2026-06-01.csv" in exports
