-- Everything a database's catalogs say about one extension, as sorted text lines, so that two
-- databases can be compared with diff (scripts/upgrade-test.sh compares a database updated with
-- ALTER EXTENSION ... UPDATE against a fresh CREATE EXTENSION of the same version).
--
--   psql -X -q -At -v ext=auth -f scripts/lib/extension_catalog.sql
--
-- Scope: the extension itself; its schema (extnamespace), the schemas that are members of it and
-- the schemas its member functions, relations and types live in; every object in those schemas,
-- member or not; every member of the extension, wherever it lives; the database's default
-- privileges. One line per fact, "<kind> <object>: <fact>", where <object> is schema-qualified
-- (search_path is pg_catalog only). Long definitions (functions, views) come one line per source
-- line, numbered, so a diff points at the changed line.
--
-- What is compared:
--   extension   version, relocatable, schema, owner, comment, extconfig/extcondition (by name)
--   member      every object of pg_depend deptype 'e' (pg_describe_object)
--   schema      owner, comment, ACL
--   function    kind, language, volatility, strict, security definer, leakproof, parallel, cost,
--               rows, return type, owner, proconfig, support, pg_get_functiondef, comment, ACL
--   table/view/sequence/foreign table/composite type (relations)
--               kind, owner, persistence, row security, replica identity, reloptions, column
--               order, comment, ACL
--   column      type, not null, default, identity, generated, collation, comment, column ACL
--   constraint  pg_get_constraintdef (tables and domains), comment
--   index       pg_get_indexdef, clustered, replica identity, comment
--   trigger     pg_get_triggerdef, enabled, comment
--   view        pg_get_viewdef (views and materialized views)
--   rule        pg_get_ruledef (rules other than a view's _RETURN)
--   policy      command, permissive, roles, USING, WITH CHECK
--   sequence    type, start, increment, min, max, cache, cycle, owned by
--   type        domains (base type, not null, default, constraints), enums (labels in order),
--               composite, range and base types; owner, comment, ACL
--   init_privs  pg_init_privs of the extension's members (what pg_dump treats as the initial
--               privileges)
--   default_acl pg_default_acl (ALTER DEFAULT PRIVILEGES) of the whole database
-- ACLs are the effective ones (a NULL ACL is expanded with acldefault), one line per grantee and
-- privilege, grantees and grantors by name, 0 as PUBLIC.
--
-- It fails on a difference: `UPGRADE_TEST_BREAK=catalog scripts/upgrade-test.sh` changes one
-- function's volatility in the fresh database and the comparison shows it. It makes no false
-- alarm on PostgreSQL's own update scripts: pg_trgm 1.3, citext 1.4, hstore 1.4, ltree 1.1 and
-- cube 1.2 updated to their latest versions compare equal to fresh installs (PostgreSQL 15).
\set ON_ERROR_STOP 1
SET search_path = pg_catalog;
SET client_min_messages = warning;
-- JIT compiling this one big query costs seconds; it runs in milliseconds without.
SET jit = off;

WITH
ext AS (
    SELECT e.oid, e.extname, e.extversion, e.extrelocatable, e.extnamespace, e.extowner,
           e.extconfig, e.extcondition
    FROM pg_extension AS e WHERE e.extname = :'ext'
),
member AS (
    SELECT d.classid, d.objid, d.objsubid
    FROM pg_depend AS d JOIN ext ON d.refobjid = ext.oid
    WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
),
nsp AS (
    SELECT n.oid, n.nspname, n.nspowner, n.nspacl
    FROM pg_namespace AS n
    WHERE n.oid IN (SELECT extnamespace FROM ext)
       OR n.oid IN (SELECT objid FROM member WHERE classid = 'pg_namespace'::regclass)
       OR n.oid IN (SELECT p.pronamespace FROM pg_proc AS p JOIN member AS m
                    ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid)
       OR n.oid IN (SELECT c.relnamespace FROM pg_class AS c JOIN member AS m
                    ON m.classid = 'pg_class'::regclass AND m.objid = c.oid)
       OR n.oid IN (SELECT t.typnamespace FROM pg_type AS t JOIN member AS m
                    ON m.classid = 'pg_type'::regclass AND m.objid = t.oid)
),
fn AS (
    SELECT p.*, p.oid::regprocedure::text AS ident
    FROM pg_proc AS p
    WHERE p.pronamespace IN (SELECT oid FROM nsp)
       OR p.oid IN (SELECT objid FROM member WHERE classid = 'pg_proc'::regclass)
),
rel AS (
    SELECT c.*, pg_catalog.format('%I.%I', n.nspname, c.relname) AS ident,
           CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view'
                          WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence'
                          WHEN 'f' THEN 'foreign table' WHEN 'c' THEN 'composite type'
                          ELSE 'relation' END AS kind
    FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c')
      AND (c.relnamespace IN (SELECT oid FROM nsp)
           OR c.oid IN (SELECT objid FROM member WHERE classid = 'pg_class'::regclass))
),
col AS (
    SELECT r.ident AS rident, r.oid AS relid, a.*,
           pg_catalog.row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum) AS position
    FROM rel AS r JOIN pg_attribute AS a ON a.attrelid = r.oid
    WHERE a.attnum > 0 AND NOT a.attisdropped
),
idx AS (
    SELECT i.*, c.relname, pg_catalog.format('%I.%I', n.nspname, c.relname) AS ident
    FROM pg_index AS i
    JOIN pg_class AS c ON c.oid = i.indexrelid
    JOIN pg_namespace AS n ON n.oid = c.relnamespace
    WHERE i.indrelid IN (SELECT oid FROM rel)
),
typ AS (
    SELECT t.*, pg_catalog.format_type(t.oid, NULL) AS ident
    FROM pg_type AS t
    WHERE (t.typnamespace IN (SELECT oid FROM nsp)
           OR t.oid IN (SELECT objid FROM member WHERE classid = 'pg_type'::regclass))
      -- a table's row type and the array types PostgreSQL makes come with what they belong to
      AND NOT (t.typrelid <> 0 AND (SELECT c.relkind FROM pg_class AS c WHERE c.oid = t.typrelid) <> 'c')
      AND NOT EXISTS (SELECT FROM pg_type AS e WHERE e.typarray = t.oid)
),
con AS (
    SELECT co.*,
           CASE WHEN co.conrelid <> 0 THEN 'constraint ' || (SELECT r.ident FROM rel AS r WHERE r.oid = co.conrelid)
                ELSE 'domain constraint ' || pg_catalog.format_type(co.contypid, NULL) END
           || ' ' || pg_catalog.quote_ident(co.conname) AS ident
    FROM pg_constraint AS co
    WHERE co.conrelid IN (SELECT oid FROM rel) OR co.contypid IN (SELECT oid FROM typ)
),
trg AS (
    SELECT t.*, 'trigger ' || r.ident || ' ' || pg_catalog.quote_ident(t.tgname) AS ident
    FROM pg_trigger AS t JOIN rel AS r ON r.oid = t.tgrelid
    WHERE NOT t.tgisinternal
),
-- One line per grantee and privilege of an ACL (NULL = the object kind's default).
acl_lines(ident, acl) AS (
    SELECT 'schema ' || pg_catalog.quote_ident(nspname), coalesce(nspacl, pg_catalog.acldefault('n', nspowner)) FROM nsp
    UNION ALL
    SELECT 'function ' || ident, coalesce(proacl, pg_catalog.acldefault('f', proowner)) FROM fn
    UNION ALL
    SELECT kind || ' ' || ident,
           coalesce(relacl, pg_catalog.acldefault(CASE relkind WHEN 'S' THEN 's' ELSE 'r' END::"char", relowner))
    FROM rel WHERE relkind <> 'c'
    UNION ALL
    SELECT 'column ' || rident || '.' || pg_catalog.quote_ident(attname::text), attacl
    FROM col WHERE attacl IS NOT NULL
    UNION ALL
    SELECT 'type ' || ident, coalesce(typacl, pg_catalog.acldefault('T', typowner)) FROM typ
),
acl_exploded AS (
    SELECT l.ident, a.*
    FROM acl_lines AS l, LATERAL pg_catalog.aclexplode(l.acl) AS a
),
lines(line) AS (
    -- the extension
    SELECT 'extension ' || extname || ': version ' || extversion FROM ext
    UNION ALL
    SELECT 'extension ' || extname || ': relocatable ' || extrelocatable::text
           || ', schema ' || extnamespace::regnamespace::text
           || ', owner ' || pg_catalog.pg_get_userbyid(extowner) FROM ext
    UNION ALL
    SELECT 'extension ' || extname || ': comment ' || coalesce(pg_catalog.obj_description(oid, 'pg_extension'), '-')
    FROM ext
    UNION ALL
    SELECT 'extension ' || e.extname || ': config ' || c.cfg::regclass::text
           || ' condition ' || pg_catalog.quote_literal(coalesce(e.extcondition[c.n], '<none>'))
    FROM ext AS e, LATERAL pg_catalog.unnest(e.extconfig) WITH ORDINALITY AS c(cfg, n)
    UNION ALL
    SELECT 'member ' || pg_catalog.pg_describe_object(classid, objid, objsubid) FROM member

    -- schemas
    UNION ALL
    SELECT 'schema ' || pg_catalog.quote_ident(nspname) || ': owner ' || pg_catalog.pg_get_userbyid(nspowner)
           || ', comment ' || coalesce(pg_catalog.obj_description(oid, 'pg_namespace'), '-')
    FROM nsp

    -- functions
    UNION ALL
    SELECT 'function ' || ident || ': kind ' || prokind::text || ', language ' || (SELECT lanname FROM pg_language WHERE oid = prolang)
           || ', volatility ' || provolatile::text || ', strict ' || proisstrict::text
           || ', security definer ' || prosecdef::text || ', leakproof ' || proleakproof::text
           || ', parallel ' || proparallel::text || ', cost ' || procost::text || ', rows ' || prorows::text
           || ', returns ' || CASE WHEN proretset THEN 'setof ' ELSE '' END || pg_catalog.format_type(prorettype, NULL)
           || ', owner ' || pg_catalog.pg_get_userbyid(proowner)
           || ', config ' || coalesce(pg_catalog.array_to_string(proconfig, ' | '), '-')
           || ', support ' || coalesce(nullif(prosupport, 0)::regproc::text, '-')
    FROM fn
    UNION ALL
    SELECT 'function ' || f.ident || ': def ' || pg_catalog.lpad(d.n::text, 4, '0') || ' ' || d.line
    FROM fn AS f,
         LATERAL pg_catalog.regexp_split_to_table(
             CASE WHEN f.prokind = 'a' THEN '(aggregate)' ELSE pg_catalog.pg_get_functiondef(f.oid) END,
             E'\n') WITH ORDINALITY AS d(line, n)
    UNION ALL
    SELECT 'function ' || ident || ': comment ' || coalesce(pg_catalog.obj_description(oid, 'pg_proc'), '-') FROM fn
    UNION ALL
    SELECT 'aggregate ' || f.ident || ': ' || a.aggkind::text || ' sfunc ' || a.aggtransfn::text
           || ' stype ' || pg_catalog.format_type(a.aggtranstype, NULL)
           || ' final ' || a.aggfinalfn::text || ' combine ' || a.aggcombinefn::text
           || ' init ' || coalesce(a.agginitval, '-')
    FROM fn AS f JOIN pg_aggregate AS a ON a.aggfnoid = f.oid

    -- relations
    UNION ALL
    SELECT kind || ' ' || ident || ': owner ' || pg_catalog.pg_get_userbyid(relowner)
           || ', persistence ' || relpersistence::text || ', row security ' || relrowsecurity::text
           || ', forced ' || relforcerowsecurity::text || ', replica identity ' || relreplident::text
           || ', options ' || coalesce(pg_catalog.array_to_string(reloptions, ','), '-')
    FROM rel
    UNION ALL
    SELECT r.kind || ' ' || r.ident || ': columns '
           || coalesce((SELECT pg_catalog.string_agg(pg_catalog.quote_ident(c.attname::text), ', ' ORDER BY c.position)
                        FROM col AS c WHERE c.relid = r.oid), '-')
    FROM rel AS r
    UNION ALL
    SELECT kind || ' ' || ident || ': comment ' || coalesce(pg_catalog.obj_description(oid, 'pg_class'), '-') FROM rel

    -- columns
    UNION ALL
    SELECT 'column ' || c.rident || '.' || pg_catalog.quote_ident(c.attname::text)
           || ': type ' || pg_catalog.format_type(c.atttypid, c.atttypmod)
           || ', not null ' || c.attnotnull::text
           || ', default ' || coalesce(pg_catalog.pg_get_expr(d.adbin, d.adrelid), '-')
           || ', identity ' || coalesce(nullif(c.attidentity::text, ''), '-')
           || ', generated ' || coalesce(nullif(c.attgenerated::text, ''), '-')
           || ', collation ' || CASE WHEN c.attcollation = t.typcollation THEN '-'
                                     ELSE coalesce(c.attcollation::regcollation::text, '-') END
           || ', comment ' || coalesce(pg_catalog.col_description(c.attrelid, c.attnum), '-')
    FROM col AS c
    JOIN pg_type AS t ON t.oid = c.atttypid
    LEFT JOIN pg_attrdef AS d ON d.adrelid = c.attrelid AND d.adnum = c.attnum

    -- constraints (of tables and of domains)
    UNION ALL
    SELECT ident || ': ' || contype::text || ' ' || pg_catalog.pg_get_constraintdef(oid)
           || ', comment ' || coalesce(pg_catalog.obj_description(oid, 'pg_constraint'), '-')
    FROM con

    -- indexes
    UNION ALL
    SELECT 'index ' || ident || ': ' || pg_catalog.pg_get_indexdef(indexrelid)
           || ', clustered ' || indisclustered::text || ', replica identity ' || indisreplident::text
           || ', comment ' || coalesce(pg_catalog.obj_description(indexrelid, 'pg_class'), '-')
    FROM idx

    -- triggers
    UNION ALL
    SELECT ident || ': ' || pg_catalog.pg_get_triggerdef(oid) || ', enabled ' || tgenabled::text
           || ', comment ' || coalesce(pg_catalog.obj_description(oid, 'pg_trigger'), '-')
    FROM trg

    -- views
    UNION ALL
    SELECT r.kind || ' ' || r.ident || ': def ' || pg_catalog.lpad(d.n::text, 4, '0') || ' ' || d.line
    FROM rel AS r,
         LATERAL pg_catalog.regexp_split_to_table(pg_catalog.pg_get_viewdef(r.oid, true), E'\n')
             WITH ORDINALITY AS d(line, n)
    WHERE r.relkind IN ('v', 'm')

    -- rules other than a view's own
    UNION ALL
    SELECT 'rule ' || r.ident || ' ' || pg_catalog.quote_ident(w.rulename) || ': ' || pg_catalog.pg_get_ruledef(w.oid)
    FROM pg_rewrite AS w JOIN rel AS r ON r.oid = w.ev_class
    WHERE w.rulename <> '_RETURN'

    -- row-level security policies
    UNION ALL
    SELECT 'policy ' || r.ident || ' ' || pg_catalog.quote_ident(p.polname) || ': command ' || p.polcmd::text
           || ', permissive ' || p.polpermissive::text
           || ', roles ' || (SELECT pg_catalog.string_agg(CASE WHEN x = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(x) END, ',' ORDER BY 1)
                             FROM pg_catalog.unnest(p.polroles) AS x)
           || ', using ' || coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), '-')
           || ', check ' || coalesce(pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid), '-')
           || ', comment ' || coalesce(pg_catalog.obj_description(p.oid, 'pg_policy'), '-')
    FROM pg_policy AS p JOIN rel AS r ON r.oid = p.polrelid

    -- sequences
    UNION ALL
    SELECT 'sequence ' || r.ident || ': type ' || pg_catalog.format_type(s.seqtypid, NULL)
           || ', start ' || s.seqstart || ', increment ' || s.seqincrement
           || ', min ' || s.seqmin || ', max ' || s.seqmax || ', cache ' || s.seqcache
           || ', cycle ' || s.seqcycle::text
           || ', owned by ' || coalesce(
                  (SELECT pg_catalog.pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid) || ' (' || d.deptype::text || ')'
                   FROM pg_depend AS d
                   WHERE d.classid = 'pg_class'::regclass AND d.objid = r.oid
                     AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
                   LIMIT 1), '-')
    FROM rel AS r JOIN pg_sequence AS s ON s.seqrelid = r.oid

    -- types
    UNION ALL
    SELECT 'type ' || ident || ': kind ' || typtype::text || ', owner ' || pg_catalog.pg_get_userbyid(typowner)
           || CASE typtype
                WHEN 'd' THEN ', domain of ' || pg_catalog.format_type(typbasetype, typtypmod)
                              || ', not null ' || typnotnull::text || ', default ' || coalesce(typdefault, '-')
                WHEN 'e' THEN ', labels ' || (SELECT pg_catalog.string_agg(pg_catalog.quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
                                              FROM pg_enum AS e WHERE e.enumtypid = typ.oid)
                WHEN 'r' THEN ', range of ' || (SELECT pg_catalog.format_type(g.rngsubtype, NULL) FROM pg_range AS g WHERE g.rngtypid = typ.oid)
                WHEN 'b' THEN ', input ' || typinput::text || ', output ' || typoutput::text
                              || ', length ' || typlen || ', align ' || typalign::text || ', storage ' || typstorage::text
                ELSE '' END
           || ', comment ' || coalesce(pg_catalog.obj_description(oid, 'pg_type'), '-')
    FROM typ

    -- ACLs
    UNION ALL
    SELECT ident || ': grant ' || privilege_type || ' to '
           || CASE grantee WHEN 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(grantee) END
           || CASE WHEN is_grantable THEN ' with grant option' ELSE '' END
           || ' by ' || pg_catalog.pg_get_userbyid(grantor)
    FROM acl_exploded

    -- the initial privileges pg_dump sees for the extension's members
    UNION ALL
    SELECT 'init_privs ' || pg_catalog.pg_describe_object(i.classoid, i.objoid, i.objsubid) || ' (' || i.privtype::text || ')'
           || ': grant ' || a.privilege_type || ' to '
           || CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(a.grantee) END
           || CASE WHEN a.is_grantable THEN ' with grant option' ELSE '' END
    FROM pg_init_privs AS i, LATERAL pg_catalog.aclexplode(i.initprivs) AS a
    WHERE (i.classoid, i.objoid) IN (SELECT classid, objid FROM member)

    -- default privileges (ALTER DEFAULT PRIVILEGES), the whole database's
    UNION ALL
    SELECT 'default_acl for ' || pg_catalog.pg_get_userbyid(d.defaclrole)
           || ' in ' || CASE WHEN d.defaclnamespace = 0 THEN '(all schemas)' ELSE d.defaclnamespace::regnamespace::text END
           || ' on ' || d.defaclobjtype::text || ': grant ' || a.privilege_type || ' to '
           || CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(a.grantee) END
           || CASE WHEN a.is_grantable THEN ' with grant option' ELSE '' END
    FROM pg_default_acl AS d, LATERAL pg_catalog.aclexplode(d.defaclacl) AS a
)
SELECT line FROM lines ORDER BY line COLLATE "C";
