-- Nothing to do on SQLite. PostgreSQL's migration 0050 applies the dashboards' running totals at
-- commit, so that concurrent captures do not queue on the organisation's row of the day for the
-- whole of each other's transactions; SQLite has one writer, which takes its captures together
-- in one transaction (group commit), so no two transactions wait on a row.
SELECT 1;
