"""Bulgarian ticket search on a PostgreSQL database created with LC_CTYPE=C.

Such a database does not lower-case Cyrillic (lower('ДИПЛОМА') stays upper
case), so a search that let the server fold case would miss "ДИПЛОМАТА" when
asked for "дипломата". tickets.search folds and stems in Python; this test
proves it by creating a database with LC_CTYPE 'C' and LC_COLLATE 'C',
running the Bulgarian search tests (tests/console/test_search.py) on it in a
child pytest (which migrates it and keeps it), and dropping it afterwards.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from tests.testservers import require_postgresql

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
SEARCH_TESTS = "tests/console/test_search.py"


def _admin_connection():
    import psycopg

    settings = connection.settings_dict
    return psycopg.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )


@pytest.mark.django_db
def test_bulgarian_search_on_a_c_locale_database():
    require_postgresql(connection.vendor, "search on an LC_CTYPE=C database")
    # The child tests in TEST_DATABASE_NAME (helpdesk.settings); made here, it is reused.
    test_name = f"{connection.settings_dict['NAME']}_cctype"
    assert re.fullmatch(r"[a-z0-9_]+", test_name)
    settings = connection.settings_dict
    with _admin_connection() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {test_name}")
        admin.execute(
            f"CREATE DATABASE {test_name} TEMPLATE template0 ENCODING 'UTF8' "
            "LC_CTYPE 'C' LC_COLLATE 'C'"
        )
    try:
        url = "postgres://{user}{password}@{host}:{port}/{name}".format(
            user=settings["USER"],
            password=f":{settings['PASSWORD']}" if settings["PASSWORD"] else "",
            host=settings["HOST"] or "127.0.0.1",
            port=settings["PORT"] or 5432,
            name=test_name,
        )
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "TEST_DATABASE_NAME": test_name,
            "HELPDESK_TESTING": "true",
        }
        child = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "--reuse-db"]
            + ["-p", "no:cacheprovider", SEARCH_TESTS],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        output = child.stdout + child.stderr
        assert child.returncode == 0, output[-4000:]
        summary = output.strip().splitlines()[-1]
        assert re.search(r"\d+ passed", summary), summary
        assert "skipped" not in summary and "failed" not in summary, summary

        import psycopg

        with psycopg.connect(conninfo=url, autocommit=True) as db:
            ctype, collate = db.execute(
                "SELECT datctype, datcollate FROM pg_database WHERE datname = current_database()"
            ).fetchone()
            # The server itself leaves Cyrillic as written: the folding is ours.
            (lowered,) = db.execute("SELECT lower('ДИПЛОМАТА')").fetchone()
            (documents,) = db.execute("SELECT count(*) FROM tickets_search").fetchone()
        assert (ctype, collate) == ("C", "C")
        assert lowered == "ДИПЛОМАТА"
        assert documents == 0  # each child test rolled its tickets back
    finally:
        with _admin_connection() as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {test_name} WITH (FORCE)")
