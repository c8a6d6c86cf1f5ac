"""The campaign store: one SQLAlchemy engine made from a URL, its schema kept by Alembic.

SQLite in a file beside the cache folder by default (`<cache_dir>.campaigns.db`, outside the
folder so clearing the cache never loses a campaign); any SQLAlchemy URL otherwise
(`postgresql+psycopg://user:pass@host/db`). `CampaignStore.open(url)` upgrades the schema to
the newest revision, so a newer ChurnLens opens a store an older one made. Every write is
one transaction (`store.begin()`): a crash mid-write leaves nothing behind.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from analytics.errors import ChurnLensError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
HEAD = "0002"


def default_url(cache_dir: str | Path) -> str:
    """SQLite beside (not inside) the cache folder: `<cache_dir>.campaigns.db`."""
    root = Path(cache_dir).resolve()
    return f"sqlite:///{root.parent / (root.name + '.campaigns.db')}"


def shown_url(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(an unreadable database URL)"


def now() -> datetime:
    return datetime.now(timezone.utc)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class CampaignStore:
    """The engine and the schema; records.py, snapshots.py and outbox.py do the reading and
    writing through `begin()` and `connect()`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = _engine(url)

    @classmethod
    def open(cls, url: str, revision: str = "head") -> CampaignStore:
        """Open the store and bring its schema to `revision` (default the newest)."""
        store = cls(url)
        store.migrate(revision)
        return store

    @property
    def name(self) -> str:
        return shown_url(self.url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self, revision: str = "head") -> None:
        """Run the Alembic migrations up to `revision` in one transaction (nothing to do, and
        Alembic not even imported, when the schema is at the newest revision already)."""
        if revision == "head" and self._at_head():
            return
        from alembic import command
        from alembic.config import Config
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self.engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
        except SQLAlchemyError as exc:
            raise ChurnLensError(f"cannot open the campaign store {self.name}: "
                                 f"{_reason(exc)}") from exc

    def _at_head(self) -> bool:
        try:
            with self.engine.connect() as connection:
                if not inspect(connection).has_table("alembic_version"):
                    return False
                rows = connection.execute(text("SELECT version_num FROM alembic_version"))
                return [r[0] for r in rows] == [HEAD]
        except SQLAlchemyError:
            return False

    def revision(self) -> str | None:
        """The schema revision the database is at (None for an empty database)."""
        from alembic.runtime.migration import MigrationContext
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def tables(self) -> list[str]:
        return sorted(inspect(self.engine).get_table_names())

    @contextmanager
    def begin(self):
        """One transaction: committed when the block ends, rolled back on any error."""
        try:
            with self.engine.begin() as connection:
                yield connection
        except SQLAlchemyError as exc:
            raise ChurnLensError(f"campaign store {self.name}: {_reason(exc)}") from exc

    @contextmanager
    def connect(self):
        """A connection for reading."""
        try:
            with self.engine.connect() as connection:
                yield connection
        except SQLAlchemyError as exc:
            raise ChurnLensError(f"campaign store {self.name}: {_reason(exc)}") from exc

    def close(self) -> None:
        self.engine.dispose()


def _engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ChurnLensError(f"--db {url!r} is not a database URL (e.g. "
                             "sqlite:///campaigns.db or postgresql+psycopg://user@host/db)") \
            from exc
    try:
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(parsed, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        return create_engine(parsed, pool_pre_ping=True)
    except (ImportError, SQLAlchemyError, OSError) as exc:
        raise ChurnLensError(f"cannot open the campaign store {shown_url(url)}: "
                             f"{_reason(exc)}") from exc


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


