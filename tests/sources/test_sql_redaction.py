"""The sql source shows its URL redacted everywhere: label, messages, rejects file; a password
in the userinfo or in a query parameter alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sources.test_sql_source import PG_URL, needs_pg, pg_url  # noqa: F401 - fixture
from tiers.plugins.sources.quality import SourceError


def test_ibis_url_label_keeps_scheme_and_host_but_not_the_password(source_from):
    src = source_from("type: sql\nibis_url: 'postgres://ann:s3cr3t@db.internal:5432/shop'\n"
                      "table: orders")
    assert src.label == "sources.orders (orders at postgres://ann:***@db.internal:5432/shop)"


def test_a_password_given_as_a_query_parameter_is_masked(source_from):
    src = source_from("type: sql\nurl: 'postgresql+psycopg://ann@db.internal/shop?"
                      "password=s3cr3t&sslmode=require'\ntable: orders")
    assert "s3cr3t" not in src.label and "password=***" in src.label
    assert "sslmode=require" in src.label


@needs_pg
@pytest.mark.parametrize("how", ["ibis userinfo", "sqlalchemy query"])
def test_failed_logins_never_show_the_password(source_from, con, how):
    import sqlalchemy as sa

    url = sa.engine.make_url(PG_URL)
    if how == "ibis userinfo":
        snippet = (f"ibis_url: 'postgres://{url.username}:wrong-pw-789@{url.host}:{url.port}/"
                   f"{url.database}'")
    else:
        snippet = (f"url: 'postgresql+psycopg://{url.username}@{url.host}:{url.port}/"
                   f"{url.database}?password=wrong-pw-789'")
    src = source_from(f"type: sql\n{snippet}\ntable: nope")
    with pytest.raises(SourceError) as err:
        src.load(con)
    assert "wrong-pw-789" not in str(err.value) and "***" in str(err.value)
    assert "the database query failed" in str(err.value)


@needs_pg
def test_rejects_file_source_column_is_redacted(pg_url, source_from, con):  # noqa: F811
    import sqlalchemy as sa

    url = sa.engine.make_url(pg_url)
    query_form = (f"postgresql+psycopg://{url.username}@{url.host}:{url.port}/{url.database}"
                  f"?password={url.password}")
    src = source_from(f"type: sql\nurl: '{query_form}'\ntable: orders\ndb_schema: crm\n"
                      "max_reject_share: 0.9")
    src.load(con)
    text = Path(src.report.rejects_file).read_text(encoding="utf-8")
    assert f"password={url.password}" not in text and "password=***" in text
