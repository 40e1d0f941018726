SELECT
  (SELECT string_agg(state || '/' || sync_state, ',') FROM pg_stat_replication) AS replication,
  (SELECT string_agg(attname || ':' || format_type(atttypid, atttypmod), ',' ORDER BY attnum)
     FROM pg_attribute WHERE attrelid = 'hello.birthdays'::regclass AND attnum > 0 AND NOT attisdropped) AS columns,
  pg_get_indexdef('hello.pk_birthdays'::regclass) AS pk,
  (SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'pk_birthdays') AS pk_constraint,
  (SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'hello') AS schema_owner,
  (SELECT relowner::regrole::text FROM pg_class WHERE oid = 'hello.birthdays'::regclass) AS table_owner,
  (SELECT relowner::regrole::text FROM pg_class WHERE oid = 'hello.pk_birthdays'::regclass) AS index_owner,
  (SELECT rolcanlogin FROM pg_roles WHERE rolname = 'hello') AS hello_login,
  (SELECT rolcanlogin FROM pg_roles WHERE rolname = 'app_user') AS app_login,
  (SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = 'app_user') AS app_scram,
  (SELECT string_agg(privilege_type, ',' ORDER BY privilege_type) FROM information_schema.role_table_grants
     WHERE grantee = 'app_user' AND table_schema = 'hello' AND table_name = 'birthdays') AS app_table,
  (SELECT string_agg(a.privilege_type, ',') FROM pg_database d, aclexplode(d.datacl) a
     WHERE d.datname = 'hello' AND a.grantee = 'app_user'::regrole) AS app_database,
  (SELECT string_agg(a.privilege_type, ',') FROM pg_namespace n, aclexplode(n.nspacl) a
     WHERE n.nspname = 'hello' AND a.grantee = 'app_user'::regrole) AS app_schema,
  (SELECT count(*) FROM pg_database d, aclexplode(d.datacl) a
     WHERE d.datname = 'hello' AND a.grantee = 0 AND a.privilege_type = 'CONNECT') AS public_connect,
  (SELECT datacl IS NOT NULL FROM pg_database WHERE datname = 'hello') AS datacl_set,
  (SELECT count(*) FROM pg_namespace n, aclexplode(n.nspacl) a
     WHERE n.nspname = 'public' AND a.grantee = 0 AND a.privilege_type = 'USAGE') AS public_usage_on_public,
  (SELECT nspacl IS NOT NULL FROM pg_namespace WHERE nspname = 'public') AS nspacl_set,
  current_setting('data_checksums') AS checksums,
  pg_encoding_to_char(encoding) AS encoding,
  datcollate AS collate
FROM pg_database WHERE datname = current_database()
