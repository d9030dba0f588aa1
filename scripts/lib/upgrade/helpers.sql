-- scripts/upgrade-test.sh: helpers of the upgrade test, in schema upgrade_check of the database
-- that goes through ALTER EXTENSION auth UPDATE. Not part of the extension (the catalog comparison
-- looks at auth's objects only). Works against every version of auth from 0.1.0 on.
\set ON_ERROR_STOP 1
CREATE SCHEMA upgrade_check;
-- The requests below switch to PostgREST's roles and still call these helpers.
GRANT USAGE ON SCHEMA upgrade_check TO PUBLIC;

-- What each request answered, by label; later steps read tokens and cookies from here.
CREATE TABLE upgrade_check.responses (
    label          text PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    role           name NOT NULL,
    outcome        text NOT NULL,  -- 'ok' or 'SQLSTATE: message'
    status         text,           -- response.status, '200' when not set
    body           text,           -- the statement's result
    access_cookie  text,           -- the access_token / refresh_token cookies response.headers set
    refresh_cookie text
);

-- Rows of every table of the extension, by phase (snapshot below).
CREATE TABLE upgrade_check.rows (
    phase text NOT NULL,
    tbl   text NOT NULL,
    pk    text NOT NULL,
    row   jsonb NOT NULL,
    PRIMARY KEY (phase, tbl, pk)
);

-- The last value a response set for cookie `name` (response.headers is a JSON array of objects).
CREATE FUNCTION upgrade_check.set_cookie(headers text, name text) RETURNS text
LANGUAGE sql AS $$
    SELECT substring(h ->> 'Set-Cookie' FROM '^' || name || '=([^;]*)')
    FROM jsonb_array_elements(nullif(headers, '')::jsonb) WITH ORDINALITY AS e(h, n)
    WHERE h ->> 'Set-Cookie' LIKE name || '=%'
    ORDER BY n DESC LIMIT 1
$$;

-- One PostgREST request, as PostgREST 12 runs it (tests.request in pgrx_tests/common.rs, scripts/bench.sh): the
-- request.* settings and the role in one transaction, the db-pre-request hook auth.check_request(),
-- then `stmt` (the RPC), its result and response.* recorded under `label`. A raised error rolls the
-- request back (as PostgREST does) and is recorded as the outcome.
CREATE FUNCTION upgrade_check.request(label text, role name, claims jsonb, stmt text,
                                      cookies jsonb DEFAULT '{}')
RETURNS upgrade_check.responses
LANGUAGE plpgsql AS $$
DECLARE
    r upgrade_check.responses;
    headers text;
BEGIN
    r.label := label;
    r.role := role;
    r.outcome := 'ok';
    BEGIN
        PERFORM set_config('request.jwt.claims', claims::text, true),
                set_config('request.method', 'POST', true),
                set_config('request.path', '/rpc/upgrade_check', true),
                set_config('request.headers',
                    '{"accept":"application/json","host":"127.0.0.1:3000","user-agent":"upgrade-test"}', true),
                set_config('request.cookies', coalesce(cookies, '{}')::text, true),
                set_config('response.headers', '', true),
                set_config('response.status', '', true),
                set_config('role', role, true);
        PERFORM auth.check_request();
        IF stmt IS NOT NULL THEN
            EXECUTE stmt INTO r.body;
        END IF;
        headers := current_setting('response.headers', true);
        r.status := coalesce(nullif(current_setting('response.status', true), ''), '200');
        PERFORM set_config('role', 'none', true);
    EXCEPTION WHEN OTHERS THEN
        r.outcome := SQLSTATE || ': ' || SQLERRM;
    END;
    r.access_cookie := upgrade_check.set_cookie(headers, 'access_token');
    r.refresh_cookie := upgrade_check.set_cookie(headers, 'refresh_token');
    r.at := clock_timestamp();
    INSERT INTO upgrade_check.responses VALUES (r.*);
    RETURN r;
END
$$;

-- Fails the run (psql stops on the error) unless `ok`.
CREATE FUNCTION upgrade_check.expect(ok boolean, what text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    IF ok IS NOT TRUE THEN
        RAISE EXCEPTION 'upgrade check failed: %', what;
    END IF;
    RETURN 'ok: ' || what;
END
$$;

-- How a request answered, for messages: "HTTP 200 {...}" or "raised SQLSTATE: message".
CREATE FUNCTION upgrade_check.answer(r upgrade_check.responses) RETURNS text
LANGUAGE sql AS $$
    SELECT CASE WHEN r.outcome IS NULL THEN '(no such request)'
                WHEN r.outcome = 'ok' THEN 'HTTP ' || r.status || coalesce(' ' || left(nullif(r.body, ''), 60)
                                                                  || CASE WHEN length(r.body) > 60 THEN '...' ELSE '' END, '')
                ELSE 'raised ' || r.outcome END
$$;

-- The request labelled `label` succeeded with HTTP 200.
CREATE FUNCTION upgrade_check.expect_ok(label text) RETURNS text
LANGUAGE sql AS $$
    SELECT upgrade_check.expect(r.outcome = 'ok' AND r.status = '200',
                                format('%s: %s', q.label, upgrade_check.answer(r)))
    FROM (SELECT expect_ok.label) AS q
    LEFT JOIN upgrade_check.responses AS r ON r.label = q.label
$$;

-- The request labelled `label` was refused: raised `sqlstate`, or answered HTTP `sqlstate`
-- through response.status (login and refresh_token answer 401/429 that way).
CREATE FUNCTION upgrade_check.expect_refused(label text, sqlstate text) RETURNS text
LANGUAGE sql AS $$
    SELECT upgrade_check.expect(
        r.outcome LIKE expect_refused.sqlstate || ':%'
            OR (r.outcome = 'ok' AND 'PT' || r.status = expect_refused.sqlstate),
        format('%s: expected %s, got %s', q.label, expect_refused.sqlstate, upgrade_check.answer(r)))
    FROM (SELECT expect_refused.label) AS q
    LEFT JOIN upgrade_check.responses AS r ON r.label = q.label
$$;

-- The request labelled `label` started or renewed a session: HTTP 200 and both cookies set.
CREATE FUNCTION upgrade_check.expect_session(label text) RETURNS text
LANGUAGE sql AS $$
    SELECT upgrade_check.expect_ok(label)
    UNION ALL
    SELECT upgrade_check.expect(r.access_cookie IS NOT NULL AND r.refresh_cookie IS NOT NULL,
                                label || ': set the access_token and refresh_token cookies')
    FROM upgrade_check.responses AS r WHERE r.label = expect_session.label
$$;

CREATE FUNCTION upgrade_check.response(label text) RETURNS upgrade_check.responses
LANGUAGE sql AS $$ SELECT * FROM upgrade_check.responses AS r WHERE r.label = response.label $$;

-- The tables of extension `auth`: its member tables and every table in its schemas.
CREATE FUNCTION upgrade_check.tables() RETURNS SETOF regclass
LANGUAGE sql AS $$
    SELECT c.oid::regclass
    FROM pg_class AS c
    WHERE c.relkind IN ('r', 'p')
      AND (c.relnamespace = (SELECT e.extnamespace FROM pg_extension AS e WHERE e.extname = 'auth')
           OR c.oid IN (SELECT d.objid FROM pg_depend AS d JOIN pg_extension AS e ON e.oid = d.refobjid
                        WHERE e.extname = 'auth' AND d.deptype = 'e' AND d.classid = 'pg_class'::regclass))
    ORDER BY 1::text
$$;

-- Records every row of every table of the extension under `phase`: its primary key (the whole
-- row when the table has none) and the row as jsonb. Returns a count per table.
CREATE FUNCTION upgrade_check.snapshot(phase text, OUT tbl text, OUT row_count bigint) RETURNS SETOF record
LANGUAGE plpgsql AS $$
DECLARE
    t regclass;
    pk_expr text;
BEGIN
    FOR t IN SELECT * FROM upgrade_check.tables() LOOP
        SELECT 'jsonb_build_array(' || string_agg(format('r.%I', a.attname), ', ' ORDER BY k.n) || ')::text'
        INTO pk_expr
        FROM pg_index AS i, unnest(i.indkey) WITH ORDINALITY AS k(attnum, n), pg_attribute AS a
        WHERE i.indrelid = t AND i.indisprimary AND a.attrelid = t AND a.attnum = k.attnum;
        EXECUTE format('INSERT INTO upgrade_check.rows (phase, tbl, pk, row)
                        SELECT $1, $2, %s, to_jsonb(r) FROM %s AS r',
                       coalesce(pk_expr, 'to_jsonb(r)::text'), t)
        USING phase, t::text;
    END LOOP;
    RETURN QUERY
        SELECT x::text, (SELECT count(*) FROM upgrade_check.rows AS w WHERE w.phase = snapshot.phase AND w.tbl = x::text)
        FROM upgrade_check.tables() AS x;
END
$$;

-- Rows of phase `old_phase` that phase `new_phase` lost or changed. `compare`:
--   'keys'   every old primary key is still there;
--   'rows'   and the row holds every old column with its old value (columns an update adds are
--            allowed);
--   'exact'  and the new phase has no other rows.
CREATE FUNCTION upgrade_check.rows_lost(old_phase text, new_phase text, compare text,
                                        OUT tbl text, OUT pk text, OUT problem text)
RETURNS SETOF record
LANGUAGE sql AS $$
    SELECT o.tbl, o.pk,
           CASE WHEN n.pk IS NULL THEN 'row missing in phase "' || new_phase || '": ' || o.row::text
                ELSE 'row changed: ' || o.row::text || ' became ' || n.row::text END
    FROM upgrade_check.rows AS o
    LEFT JOIN upgrade_check.rows AS n ON n.phase = new_phase AND n.tbl = o.tbl AND n.pk = o.pk
    WHERE o.phase = old_phase AND (n.pk IS NULL OR (compare <> 'keys' AND NOT n.row @> o.row))
    UNION ALL
    SELECT n.tbl, n.pk, 'row not in phase "' || old_phase || '": ' || n.row::text
    FROM upgrade_check.rows AS n
    WHERE compare = 'exact' AND n.phase = new_phase
      AND NOT EXISTS (SELECT FROM upgrade_check.rows AS o
                      WHERE o.phase = old_phase AND o.tbl = n.tbl AND o.pk = n.pk)
      -- Rows of a table the update creates (auth_private.login_locks, say) are new by design: only
      -- tables that held rows before are checked for rows that appeared.
      AND EXISTS (SELECT FROM upgrade_check.rows AS t WHERE t.phase = old_phase AND t.tbl = n.tbl)
    ORDER BY 1, 2
$$;

-- Fails unless phase `new_phase` kept the rows of `old_phase` (rows_lost above), listing them.
CREATE FUNCTION upgrade_check.expect_rows_kept(old_phase text, new_phase text, compare text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    lost text;
    n bigint;
BEGIN
    SELECT string_agg(format('  %s %s: %s', l.tbl, l.pk, l.problem), E'\n'), count(*)
    INTO lost, n
    FROM upgrade_check.rows_lost(old_phase, new_phase, compare) AS l;
    IF n > 0 THEN
        RAISE EXCEPTION 'upgrade check failed: % rows of phase "%" not kept (%) in phase "%":%', n,
            old_phase, compare, new_phase, E'\n' || lost;
    END IF;
    RETURN format('ok: every row of phase "%s" kept in phase "%s" (%s: %s rows compared)',
                  old_phase, new_phase, compare,
                  (SELECT count(*) FROM upgrade_check.rows AS r WHERE r.phase = old_phase));
END
$$;
