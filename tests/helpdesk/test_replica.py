"""The read replica (DATABASE_REPLICA_URL): which reads go there, and proof on a real one.

The router's decisions are checked directly; then a real streaming replica
is started: a throw-away PostgreSQL 15 primary (initdb, on a free port,
loaded with the test database's schema by pg_dump) and a standby made from
it with `pg_basebackup -R`. A helpdesk process configured with both URLs
serves pages while the standby's replay is paused: what it shows from the
replica lacks the newest rows, while writes, reads inside a transaction and
logins use the primary.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.db import connection, transaction

from helpdesk.dbrouter import PRIMARY, REPLICA, ReplicaRouter, replica_reads
from tests.testservers import free_port, require_postgresql, require_service

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")


@pytest.fixture
def with_replica(settings):
    settings.DATABASES = {**settings.DATABASES, REPLICA: dict(settings.DATABASES[PRIMARY])}


def test_reads_go_to_the_replica_only_inside_replica_reads(with_replica):
    from kb.models import Article
    from tickets.models import Ticket

    router = ReplicaRouter()
    assert router.db_for_read(Article) == PRIMARY
    with replica_reads():
        assert router.db_for_read(Article) == REPLICA
        assert router.db_for_read(Ticket) == REPLICA
        assert router.db_for_write(Article) == PRIMARY
    assert router.db_for_read(Article) == PRIMARY


def test_sessions_and_lockouts_are_always_read_from_the_primary(with_replica):
    from axes.models import AccessAttempt
    from django.contrib.sessions.models import Session

    router = ReplicaRouter()
    with replica_reads():
        assert router.db_for_read(Session) == PRIMARY
        assert router.db_for_read(AccessAttempt) == PRIMARY


def test_without_a_replica_everything_stays_on_the_primary(settings):
    from kb.models import Article

    assert REPLICA not in settings.DATABASES
    with replica_reads():
        assert ReplicaRouter().db_for_read(Article) == PRIMARY
    assert ReplicaRouter().allow_migrate(PRIMARY, "kb") is True
    assert ReplicaRouter().allow_migrate(REPLICA, "kb") is False


def test_reads_inside_a_write_transaction_stay_on_the_primary(transactional_db, with_replica):
    from kb.models import Article

    router = ReplicaRouter()
    with replica_reads():
        with transaction.atomic():
            assert router.db_for_read(Article) == PRIMARY
        assert router.db_for_read(Article) == REPLICA


# --- a real streaming replica ---------------------------------------------------------


def _as_postgres(args, **kwargs):
    """Run a PostgreSQL server binary as the postgres user (initdb refuses root)."""
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs)


class Cluster:
    """A throw-away primary and its streaming standby in a temporary folder."""

    def __init__(self):
        self.base = Path(tempfile.mkdtemp(prefix="hd-replica-"))
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres", "postgres")
        self.primary_dir, self.replica_dir = self.base / "primary", self.base / "replica"
        self.primary_port, self.replica_port = free_port(), free_port()
        self.started = []

    def pg(self, name):
        return str(PG_BIN / name)

    def start(self, data_dir, port):
        options = f"-p {port} -k {self.base} -c listen_addresses=127.0.0.1"
        _as_postgres(
            [self.pg("pg_ctl"), "-D", str(data_dir), "-o", options]
            + ["-l", str(self.base / f"{data_dir.name}.log"), "-w", "-t", "60", "start"],
            timeout=90,
        )
        self.started.append(data_dir)

    def create(self):
        _as_postgres(
            [self.pg("initdb"), "-D", str(self.primary_dir), "-U", "postgres", "--auth=trust"]
            + ["-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
            timeout=120,
        )
        with open(self.primary_dir / "postgresql.conf", "a") as conf:
            conf.write(
                "\nwal_level = replica\nmax_wal_senders = 4\nfsync = off\n"
                "full_page_writes = off\nmax_connections = 40\n"
            )
        self.start(self.primary_dir, self.primary_port)

    def load(self, source: dict, name: str):
        """Copy the schema and rows of the `source` database into `name` on the primary."""
        env = {**os.environ, "PGPASSWORD": source.get("PASSWORD") or ""}
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres"]
            + ["-d", "postgres", "-qc", f'CREATE DATABASE "{name}"'],
            check=True,
            capture_output=True,
            timeout=60,
        )
        dump = subprocess.run(
            [self.pg("pg_dump"), "-h", source.get("HOST") or "127.0.0.1"]
            + ["-p", str(source.get("PORT") or 5432), "-U", source.get("USER") or "postgres"]
            + ["--no-owner", "--no-privileges", source["NAME"]],
            check=True,
            capture_output=True,
            env=env,
            timeout=120,
        )
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres"]
            + ["-d", name, "-q", "-v", "ON_ERROR_STOP=1"],
            input=dump.stdout,
            check=True,
            capture_output=True,
            timeout=120,
        )

    def make_standby(self):
        _as_postgres(
            [self.pg("pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.primary_port)]
            + ["-U", "postgres", "-D", str(self.replica_dir), "-R", "-X", "stream"]
            + ["--checkpoint=fast", "--no-sync"],
            timeout=120,
        )
        self.start(self.replica_dir, self.replica_port)

    def stop(self):
        for data_dir in reversed(self.started):
            try:
                _as_postgres(
                    [self.pg("pg_ctl"), "-D", str(data_dir), "-m", "immediate", "-w", "stop"],
                    timeout=60,
                )
            except subprocess.SubprocessError:
                pass
        shutil.rmtree(self.base, ignore_errors=True)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-2000:] for p in self.base.glob("*.log"))


@pytest.fixture
def streaming_replica(django_db_setup, django_db_blocker):
    """(primary URL, replica URL) of a fresh primary holding the test schema and its standby."""
    require_postgresql(connection.vendor, "Reading from a streaming replica")
    for binary in ("initdb", "pg_ctl", "pg_basebackup", "pg_dump"):
        if not (PG_BIN / binary).exists():
            require_service("postgresql-15", f"{PG_BIN / binary} is missing")
    if shutil.which("psql") is None:
        require_service("postgresql-client", "psql is missing")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        require_service("runuser", "needed to run initdb as the postgres user")
    cluster = Cluster()
    try:
        cluster.create()
        with django_db_blocker.unblock():
            source = dict(connection.settings_dict)
            # The test database's name (settings_dict may still hold the configured one).
            source["NAME"] = connection.creation._get_test_db_name()
        cluster.load(source, "hd")
        cluster.make_standby()
        base = "postgres://postgres@127.0.0.1:{}/hd"
        yield base.format(cluster.primary_port), base.format(cluster.replica_port)
    except subprocess.CalledProcessError as error:
        pytest.fail(f"{error.cmd[:3]} failed: {error.stderr}\n{cluster.logs()}")
    finally:
        cluster.stop()


SCENARIO = r"""
import json, time
import django
django.setup()
from django.db import connections, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import AgentProfile, User
from helpdesk.dbrouter import replica_reads
from kb import services
from kb.models import Article

out = {}


def caught_up():
    with connections["default"].cursor() as c:
        c.execute("SELECT pg_current_wal_insert_lsn()")
        lsn = c.fetchone()[0]
    for _ in range(400):
        with connections["replica"].cursor() as c:
            c.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [lsn])
            if c.fetchone()[0]:
                return
        time.sleep(0.05)
    raise SystemExit("the replica did not catch up")


def replica(sql):
    with connections["replica"].cursor() as c:
        c.execute(sql)


def article(n):
    return services.create_article(
        actor=None, language="bg", slug=f"replica-{n}", title=f"Статия номер {n}",
        summary="Резюме.", body="Текст.", visibility="public", status="published")


first = article(1)
boss = User.objects.create_user(email="boss@mon.bg", password="pw-Secret-123", full_name="Шеф")
AgentProfile.objects.create(user=boss, tier="central", kind="supervisor")
caught_up()
replica("SELECT pg_wal_replay_pause()")
second = article(2)  # committed on the primary, not yet replayed on the replica

client = Client(HTTP_HOST="127.0.0.1")
page = client.get("/kb/").content.decode()
out["kb_index"] = ["Статия номер 1" in page, "Статия номер 2" in page]
out["primary_count"] = Article.objects.filter(slug__startswith="replica-").count()
with replica_reads():
    out["replica_count"] = Article.objects.filter(slug__startswith="replica-").count()
    with transaction.atomic():
        out["in_transaction_count"] = Article.objects.filter(slug__startswith="replica-").count()

# Reading an article counts a view: a write from a replica-read page goes to
# the primary (the replica refuses writes: a wrong turn would be a 500).
response = client.get(first.get_absolute_url())
out["article_status"] = response.status_code
first.refresh_from_db()
out["article_views"] = first.views
out["missing_on_replica"] = client.get(second.get_absolute_url()).status_code

# A person who logged in a moment ago (their session exists only on the
# primary) opens the dashboard and a report: the session comes from the
# primary, the figures from the replica.
client.force_login(boss)
with CaptureQueriesContext(connections["replica"]) as on_replica:
    out["dashboard_status"] = client.get("/console/dashboard/").status_code
out["dashboard_replica_queries"] = len(on_replica)
with CaptureQueriesContext(connections["replica"]) as on_replica:
    out["search_status"] = client.get("/kb/search/?q=статия").status_code
out["search_replica_queries"] = len(on_replica)

replica("SELECT pg_wal_replay_resume()")
caught_up()
page = client.get("/kb/").content.decode()
out["kb_index_after"] = ["Статия номер 1" in page, "Статия номер 2" in page]
print("RESULT " + json.dumps(out))
"""


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)  # the test database must exist, to copy its schema
def test_pages_read_from_a_real_streaming_replica(streaming_replica, tmp_path):
    primary_url, replica_url = streaming_replica
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_", "REDIS_URL", "TEST_DATABASE"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="helpdesk.settings",
        HELPDESK_TESTING="true",
        HELPDESK_VAR_DIR=str(tmp_path / "var"),
        HELPDESK_OTP_REQUIRED="false",
        DATABASE_URL=primary_url,
        DATABASE_REPLICA_URL=replica_url,
        DATABASE_POOL_SIZE="2",
        CELERY_TASK_ALWAYS_EAGER="true",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    )
    result = subprocess.run(
        [sys.executable, "-c", SCENARIO],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert result.returncode == 0 and lines, result.stderr[-4000:]
    out = json.loads(lines[-1][len("RESULT ") :])
    # The knowledge base is read from the replica, where the replay stopped.
    assert out["kb_index"] == [True, False]
    assert (out["primary_count"], out["replica_count"]) == (2, 1)
    # Inside a write transaction reads stay on the primary.
    assert out["in_transaction_count"] == 2
    # The page's write (its view counter) reached the primary.
    assert (out["article_status"], out["article_views"]) == (200, 1)
    assert out["missing_on_replica"] == 404
    # The dashboard and search read from the replica, for a fresh login.
    assert out["dashboard_status"] == 200 and out["dashboard_replica_queries"] > 0
    assert out["search_status"] == 200 and out["search_replica_queries"] > 0
    # Once replay resumes, the replica shows the new article too.
    assert out["kb_index_after"] == [True, True]


def test_settings_add_the_replica_with_its_pool_and_health_check(monkeypatch, tmp_path):
    from tests.test_settings import load_settings

    namespace = load_settings(
        monkeypatch,
        tmp_path,
        DATABASE_URL="postgres://helpdesk@db1:5432/helpdesk",
        DATABASE_REPLICA_URL="postgres://helpdesk@db2:5432/helpdesk",
        DATABASE_POOL_SIZE="5",
    )
    replica = namespace["DATABASES"]["replica"]
    assert (replica["HOST"], replica["TEST"]) == ("db2", {"MIRROR": "default"})
    assert replica["OPTIONS"]["pool"]["max_size"] == 5
    assert namespace["HEALTH_CHECKS"]["replica"] == "helpdesk.health.replica"


def test_a_replica_needs_a_postgresql_primary(monkeypatch, tmp_path):
    from helpdesk.env import ConfigError
    from tests.test_settings import load_settings

    with pytest.raises(ConfigError, match="DATABASE_REPLICA_URL"):
        load_settings(monkeypatch, tmp_path, DATABASE_REPLICA_URL="postgres://x@db2/helpdesk")
