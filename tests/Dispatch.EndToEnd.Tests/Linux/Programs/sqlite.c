/*
 * SQLite (Debian's libsqlite3.a) on a host file: write-ahead logging with its shared-memory file, fcntl record locks,
 * pread/pwrite, fsync/fdatasync, fchown, a recursive CTE, an index, a transaction, VACUUM and an integrity check.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <unistd.h>

static int print_row(void *unused, int n, char **values, char **names)
{
    (void)unused;
    for (int i = 0; i < n; i++) printf("%s=%s ", names[i], values[i] ? values[i] : "NULL");
    printf("\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    sqlite3 *db;
    char *error = NULL;
    unlink(argv[1]);
    if (sqlite3_open(argv[1], &db) != SQLITE_OK) return 3;
    const char *sql =
        "PRAGMA journal_mode=WAL;"
        "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, v REAL);"
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000)"
        "  INSERT INTO t(name, v) SELECT 'n' || (x % 97), x * 0.5 FROM c;"
        "CREATE INDEX ix ON t(name);"
        "SELECT name, COUNT(*), SUM(v), AVG(v) FROM t GROUP BY name ORDER BY 3 DESC LIMIT 3;"
        "SELECT printf('%.3f', SQRT(AVG(v * v) - AVG(v) * AVG(v))) AS deviation FROM t;"
        "BEGIN; UPDATE t SET v = v * 2 WHERE id % 3 = 0; DELETE FROM t WHERE id % 5 = 0; COMMIT;"
        "SELECT COUNT(*), SUM(v), MAX(name) FROM t;"
        "PRAGMA integrity_check;"
        "PRAGMA wal_checkpoint(TRUNCATE);"
        "VACUUM;"
        "SELECT total_changes();";
    int status = sqlite3_exec(db, sql, print_row, NULL, &error);
    if (status != SQLITE_OK) printf("error %d: %s\n", status, error);
    sqlite3_close(db);
    return status == SQLITE_OK ? 0 : 1;
}
