"""The PySpark engine: a Spark session configured so that results match DuckDB's.

``tiers run --engine pyspark`` (or ``engine: pyspark`` in a ruleset) runs the same Ibis
expressions on Spark. Local mode by default; a cluster through Spark's usual configuration
(``spark-submit --master ...``, ``PYSPARK_SUBMIT_ARGS``, ``spark-defaults.conf``) or
``TIERS_SPARK_MASTER``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from typing import Any

from tiers.core import exits
from tiers.core.errors import TiersError

DEFAULT_MASTER = "local[*]"

# Settings the engine relies on; each one was seen to change results or output when left out.
SESSION_CONF: dict[str, str] = {
    # timestamps are naive wall-clock values in tiers; Spark reads them in the session zone
    "spark.sql.session.timeZone": "UTC",
    # without Arrow, in-memory tables turn nullable ints into NULL and string NULLs into 'NaN'
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # progress bars would otherwise be written into stdout (tables, JSON output)
    "spark.ui.showConsoleProgress": "false",
    "spark.ui.enabled": "false",
    # one customer-level aggregate per run: a few partitions beat the default 200 here
    "spark.sql.shuffle.partitions": "8",
}


# Spark's own log (log4j2) goes to stderr. Its code generator logs ERROR "failed to compile"
# for the wide per-customer expression and then runs it interpreted, with the same result:
# hundreds of alarming lines before a correct table. Warnings and errors of the rest of Spark
# stay visible; $TIERS_SPARK_LOG_CONFIG names a log4j2 file of the user's own instead.
LOG_CONFIG_ENV = "TIERS_SPARK_LOG_CONFIG"
LOG4J2_PROPERTIES = """\
status = error
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
logger.codegen.name = org.apache.spark.sql.catalyst.expressions.codegen
logger.codegen.level = off
logger.wholestage.name = org.apache.spark.sql.execution.WholeStageCodegenExec
logger.wholestage.level = off
logger.nativecode.name = org.apache.hadoop.util.NativeCodeLoader
logger.nativecode.level = error
logger.arrow.name = org.apache.spark.sql.execution.arrow
logger.arrow.level = error
logger.utils.name = org.apache.spark.util.Utils
logger.utils.level = error
"""

MISSING_PYSPARK = ("the pyspark engine needs PySpark; install it with "
                   "`pip install 'tiers[spark]'`")


class SparkUnavailable(TiersError):
    """PySpark or Java is missing, or the Spark session could not start."""

    exit_code = exits.ENGINE


def _master() -> str | None:
    """The master to set, or None when Spark's own configuration already names one."""
    if os.environ.get("TIERS_SPARK_MASTER"):
        return os.environ["TIERS_SPARK_MASTER"]
    if os.environ.get("PYSPARK_GATEWAY_PORT"):  # launched by spark-submit: it chose the master
        return None
    if "--master" in os.environ.get("PYSPARK_SUBMIT_ARGS", ""):
        return None
    return DEFAULT_MASTER


def _java_available() -> bool:
    home = os.environ.get("JAVA_HOME")
    if home and os.path.exists(os.path.join(home, "bin", "java")):
        return True
    return shutil.which("java") is not None


def session(master: str | None = None, conf: dict[str, str] | None = None) -> Any:
    """A SparkSession with :data:`SESSION_CONF` and a fresh warehouse folder for this process."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailable(MISSING_PYSPARK) from None
    if not _java_available():
        raise SparkUnavailable(
            "the pyspark engine needs Java 17 or later; install a JRE (e.g. "
            "`apt-get install openjdk-17-jre-headless`) or set JAVA_HOME")

    active = SparkSession.getActiveSession()
    if active is not None:
        for key in ("spark.sql.session.timeZone", "spark.sql.execution.arrow.pyspark.enabled"):
            active.conf.set(key, SESSION_CONF[key])
        return active

    # Spark starts its Python workers with `python3` from the PATH unless told otherwise; from a
    # virtualenv that is not activated that interpreter lacks Ibis and every UDF fails.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("tiers")
    master = master or _master()
    if master:
        builder = builder.master(master)
    # a warehouse left behind by another process makes create_table fail (LOCATION_ALREADY_EXISTS)
    warehouse = tempfile.mkdtemp(prefix="tiers-spark-warehouse-")
    atexit.register(shutil.rmtree, warehouse, True)
    settings = {**SESSION_CONF, "spark.sql.warehouse.dir": warehouse, **(conf or {})}
    settings["spark.driver.extraJavaOptions"] = quiet_log_option(
        settings.get("spark.driver.extraJavaOptions", ""))
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:
        raise SparkUnavailable(f"could not start Spark: {exc}") from None
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def quiet_log_option(java_options: str) -> str:
    """``java_options`` with the log4j2 configuration of :data:`LOG4J2_PROPERTIES` (or
    $TIERS_SPARK_LOG_CONFIG). Read when the driver's JVM starts, so it must be set before."""
    chosen = java_options + os.environ.get("PYSPARK_SUBMIT_ARGS", "")
    if "log4j2.configurationFile" in chosen:  # the user chose their own
        return java_options
    path = os.environ.get(LOG_CONFIG_ENV)
    if not path:
        folder = tempfile.mkdtemp(prefix="tiers-spark-log-")
        atexit.register(shutil.rmtree, folder, True)
        path = os.path.join(folder, "log4j2.properties")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(LOG4J2_PROPERTIES)
    return f"{java_options} -Dlog4j2.configurationFile=file:{path}".strip()


def connect_spark(spark: Any = None) -> Any:
    """An Ibis backend on ``spark`` (a new or the active local session by default)."""
    try:
        # Ibis imports PySpark with its backend, before any session exists
        import ibis.backends.pyspark
    except ImportError:
        raise SparkUnavailable(MISSING_PYSPARK) from None
    import ibis

    return ibis.pyspark.connect(spark if spark is not None else session())


def is_spark(con: Any) -> bool:
    return getattr(con, "name", "") == "pyspark"
