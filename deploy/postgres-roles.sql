-- Two PostgreSQL roles for production (README, "Running in production"):
--   governance_owner  owns the tables: `manage.py migrate` runs as it, nothing else does;
--   governance_app    the web, worker and beat processes: reads and writes rows, and can
--                     neither TRUNCATE the audit table nor DISABLE its append-only trigger
--                     (both need the table's owner), nor is it a superuser.
-- Run once as a superuser, with the database created and owned by governance_owner:
--   psql -v ON_ERROR_STOP=1 -d governance -f deploy/postgres-roles.sql
-- Set the passwords afterwards (ALTER ROLE ... PASSWORD '...') or use your own authentication.

CREATE ROLE governance_owner LOGIN;
CREATE ROLE governance_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;

ALTER DATABASE governance OWNER TO governance_owner;
ALTER SCHEMA public OWNER TO governance_owner;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

GRANT CONNECT ON DATABASE governance TO governance_app;
GRANT USAGE ON SCHEMA public TO governance_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO governance_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO governance_app;

-- Tables and sequences the owner creates later (every new migration) get the same grants.
ALTER DEFAULT PRIVILEGES FOR ROLE governance_owner IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO governance_app;
ALTER DEFAULT PRIVILEGES FOR ROLE governance_owner IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO governance_app;
