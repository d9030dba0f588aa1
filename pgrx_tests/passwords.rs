//! Passwords in the database: hash_password / verify_password, pgcrypto compatibility both ways,
//! refused inputs, and the auth.users table (hashing trigger, imports, role check, privileges).

#[pgrx::pg_schema]
mod tests {
    use crate::pgrx_tests::common::{assert_error, one, run};
    use pgrx::prelude::*;

    fn text(sql: &str) -> String {
        one::<String>(sql).unwrap_or_else(|| panic!("{sql} returned NULL"))
    }

    fn truth(sql: &str) -> bool {
        one::<bool>(sql).unwrap_or_else(|| panic!("{sql} returned NULL"))
    }

    #[pg_test]
    fn passwords_hash_and_verify() {
        run("SET LOCAL auth.bcrypt_cost = 4");
        let h = text("SELECT auth.hash_password('correct horse')");
        assert!(h.starts_with("$2a$04$") && h.len() == 60, "{h}");
        assert!(truth(&format!(
            "SELECT auth.verify_password('correct horse', '{h}')"
        )));
        assert!(!truth(&format!(
            "SELECT auth.verify_password('correct horsf', '{h}')"
        )));
        // A fresh salt each time.
        assert_ne!(h, text("SELECT auth.hash_password('correct horse')"));
        // The cost follows auth.bcrypt_cost, which refuses values outside 4..20.
        run("SET LOCAL auth.bcrypt_cost = 5");
        assert!(text("SELECT auth.hash_password('x')").starts_with("$2a$05$"));
        assert_error(
            "SET LOCAL auth.bcrypt_cost = 3",
            "22023",
            "auth.bcrypt_cost",
        );
        assert_error(
            "SET LOCAL auth.bcrypt_cost = 21",
            "22023",
            "auth.bcrypt_cost",
        );
        // $2b$ and $2y$ spellings of the same hash verify too (OpenBSD vector "U*U").
        let vector = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
        for prefix in ["$2a$", "$2b$", "$2y$"] {
            let h = vector.replace("$2a$", prefix);
            assert!(
                truth(&format!("SELECT auth.verify_password('U*U', '{h}')")),
                "{h}"
            );
        }
    }

    #[pg_test]
    fn passwords_refused_inputs() {
        run("SET LOCAL auth.bcrypt_cost = 4");
        let h = text("SELECT auth.hash_password('pw')");
        assert_error(
            "SELECT auth.hash_password('')",
            "22023",
            "must not be empty",
        );
        assert_error(
            &format!("SELECT auth.verify_password('', '{h}')"),
            "22023",
            "must not be empty",
        );
        // 72 bytes are fine; 73 are refused, never truncated (bytes, not characters).
        let h72 = text("SELECT auth.hash_password(repeat('a', 72))");
        assert!(truth(&format!(
            "SELECT auth.verify_password(repeat('a', 72), '{h72}')"
        )));
        assert_error(
            "SELECT auth.hash_password(repeat('a', 73))",
            "22023",
            "73 bytes",
        );
        assert_error(
            &format!("SELECT auth.verify_password(repeat('a', 73), '{h72}')"),
            "22023",
            "never truncated",
        );
        assert_error(
            "SELECT auth.hash_password(repeat('€', 25))",
            "22023",
            "75 bytes",
        );
        // Malformed hashes: 22P02, whatever the password.
        for bad in [
            "",
            "plaintext",
            "$1$abc$def",
            "$2x$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe",
        ] {
            assert_error(
                &format!("SELECT auth.verify_password('pw', '{bad}')"),
                "22P02",
                "not a bcrypt hash",
            );
        }
        // A cost no server should spend (31): 22023.
        assert_error(
            "SELECT auth.verify_password('pw', '$2a$31$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW')",
            "22023",
            "above 20",
        );
        // NULL in, NULL out.
        assert_eq!(one::<String>("SELECT auth.hash_password(NULL)"), None);
        assert_eq!(
            one::<bool>(&format!("SELECT auth.verify_password(NULL, '{h}')")),
            None
        );
        assert_eq!(one::<bool>("SELECT auth.verify_password('pw', NULL)"), None);
    }

    #[pg_test]
    fn passwords_pgcrypto_compatible_both_ways() {
        run("CREATE EXTENSION IF NOT EXISTS pgcrypto");
        run("SET LOCAL auth.bcrypt_cost = 4");
        // pgcrypto's hashes verify with ours...
        let theirs = text("SELECT crypt('s3cret pw', gen_salt('bf', 4))");
        assert!(theirs.starts_with("$2a$04$"), "{theirs}");
        assert!(truth(&format!(
            "SELECT auth.verify_password('s3cret pw', '{theirs}')"
        )));
        assert!(!truth(&format!(
            "SELECT auth.verify_password('s3cret pX', '{theirs}')"
        )));
        // ... at pgcrypto's default cost too (gen_salt('bf') is cost 6).
        let default_cost = text("SELECT crypt('pw', gen_salt('bf'))");
        assert!(truth(&format!(
            "SELECT auth.verify_password('pw', '{default_cost}')"
        )));
        // ... and ours verify in crypt().
        let ours = text("SELECT auth.hash_password('s3cret pw')");
        assert_eq!(text(&format!("SELECT crypt('s3cret pw', '{ours}')")), ours);
        assert_ne!(text(&format!("SELECT crypt('s3cret pX', '{ours}')")), ours);
        // Non-ASCII passwords agree as well (both hash the UTF-8 bytes).
        let utf8 = text("SELECT auth.hash_password('pässwörd €')");
        assert_eq!(text(&format!("SELECT crypt('pässwörd €', '{utf8}')")), utf8);
    }

    #[pg_test]
    fn passwords_function_markings_and_privileges() {
        let markings = |f: &str| {
            text(&format!(
                "SELECT provolatile::text || proisstrict::text || proparallel::text FROM pg_proc WHERE oid = '{f}'::regprocedure"
            ))
        };
        assert_eq!(markings("auth.hash_password(text)"), "vtrues");
        assert_eq!(markings("auth.verify_password(text, text)"), "itrues");
        run("CREATE ROLE passwords_probe NOLOGIN");
        run("SET LOCAL ROLE passwords_probe");
        assert_error(
            "SELECT auth.hash_password('x')",
            "42501",
            "permission denied",
        );
        assert_error(
            "SELECT auth.verify_password('x', '$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW')",
            "42501",
            "permission denied",
        );
        assert_error(
            "SELECT auth_private._password_to_store('x')",
            "42501",
            "permission denied",
        );
        assert_error(
            "SELECT auth_private._login_password_matches('x', NULL)",
            "42501",
            "permission denied",
        );
        assert_error("SELECT * FROM auth.users", "42501", "permission denied");
        assert_error(
            "INSERT INTO auth.users (username, password, role) VALUES ('mallory', 'x', 'postgres')",
            "42501",
            "permission denied",
        );
        run("RESET ROLE");
        // Granting either function is enough to use it (no hidden dependency on a private one).
        run("GRANT EXECUTE ON FUNCTION auth.hash_password(text), auth.verify_password(text, text) TO passwords_probe");
        run("SET LOCAL auth.bcrypt_cost = 4");
        run("SET LOCAL ROLE passwords_probe");
        assert!(truth(
            "SELECT auth.verify_password('x', auth.hash_password('x'))"
        ));
    }

    #[pg_test]
    fn passwords_users_table_hashes_plaintext() {
        run("SET LOCAL auth.bcrypt_cost = 4");
        run("CREATE ROLE passwords_web NOLOGIN");
        run("INSERT INTO auth.users (username, password, role) VALUES ('pw_alice', 'alice pw', 'passwords_web')");
        let stored = text("SELECT password FROM auth.users WHERE username = 'pw_alice'");
        assert!(stored.starts_with("$2a$04$"), "{stored}");
        assert!(truth(&format!(
            "SELECT auth.verify_password('alice pw', '{stored}')"
        )));
        // Updating another column keeps the hash; updating the password hashes the new one and
        // moves updated_at.
        run("UPDATE auth.users SET updated_at = now() - interval '1 day' WHERE username = 'pw_alice'");
        run("UPDATE auth.users SET role = 'passwords_web' WHERE username = 'pw_alice'");
        assert_eq!(
            text("SELECT password FROM auth.users WHERE username = 'pw_alice'"),
            stored
        );
        assert!(truth(
            "SELECT updated_at = now() FROM auth.users WHERE username = 'pw_alice'"
        ));
        run("UPDATE auth.users SET password = 'new pw' WHERE username = 'pw_alice'");
        let renewed = text("SELECT password FROM auth.users WHERE username = 'pw_alice'");
        assert!(renewed.starts_with("$2a$04$") && renewed != stored);
        assert!(truth(&format!(
            "SELECT auth.verify_password('new pw', '{renewed}')"
        )));
        // Refused passwords: nothing written.
        assert_error(
            "INSERT INTO auth.users (username, password, role) VALUES ('pw_bob', '', 'passwords_web')",
            "22023",
            "must not be empty",
        );
        assert_error(
            "INSERT INTO auth.users (username, password, role) VALUES ('pw_bob', repeat('x', 73), 'passwords_web')",
            "22023",
            "never truncated",
        );
        assert_error(
            "INSERT INTO auth.users (username, password, role) VALUES ('pw_bob', NULL, 'passwords_web')",
            "23502",
            "password",
        );
        // A value shaped like a bcrypt hash is a password like any other: hashed, never stored as
        // given (a planted cost-20 hash would pin a backend for minutes at each login).
        let planted = "$2a$20$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
        run(&format!("INSERT INTO auth.users (username, password, role) VALUES ('pw_planted', '{planted}', 'passwords_web')"));
        let stored = text("SELECT password FROM auth.users WHERE username = 'pw_planted'");
        assert!(
            stored.starts_with("$2a$04$") && stored != planted,
            "{stored}"
        );
        assert!(truth(&format!(
            "SELECT auth.verify_password('{planted}', '{stored}')"
        )));
        run(&format!(
            "UPDATE auth.users SET password = '{planted}' WHERE username = 'pw_planted'"
        ));
        assert!(
            text("SELECT password FROM auth.users WHERE username = 'pw_planted'")
                .starts_with("$2a$04$")
        );
        // A superuser (pg_restore reloading a dump) writing a hash of a cost login verifies has
        // it kept as written: a restored database keeps its users' passwords.
        let restored = "$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
        run(&format!("INSERT INTO auth.users (username, password, role) VALUES ('pw_restored', '{restored}', 'passwords_web')"));
        assert_eq!(
            text("SELECT password FROM auth.users WHERE username = 'pw_restored'"),
            restored
        );
        // Usernames are 3 to 256 characters.
        assert_error(
            "INSERT INTO auth.users (username, password, role) VALUES ('bo', 'x', 'passwords_web')",
            "23514",
            "users_username_length",
        );
        assert_error(
            "INSERT INTO auth.users (username, password, role) VALUES (repeat('b', 257), 'x', 'passwords_web')",
            "23514",
            "users_username_length",
        );
        run("INSERT INTO auth.users (username, password, role) VALUES (repeat('é', 256), 'x', 'passwords_web')");
        assert_eq!(
            one::<i64>("SELECT count(*) FROM auth.users WHERE username = 'pw_bob'"),
            Some(0)
        );
    }

    #[pg_test]
    fn passwords_users_import_pgcrypto_hashes_as_they_are() {
        run("CREATE EXTENSION IF NOT EXISTS pgcrypto");
        run("CREATE ROLE passwords_importer NOLOGIN");
        // A hand-written auth."user" table, migrated by the extension owner with import_user.
        run("CREATE TEMP TABLE legacy_user (username text, password text, role name)");
        run("INSERT INTO legacy_user VALUES ('pw_demo', crypt('pw_demo', gen_salt('bf', 5)), 'passwords_importer'), ('pw_other', crypt('pw_other', gen_salt('bf', 4)), 'passwords_importer')");
        run("SELECT auth.import_user(username, password, role) FROM legacy_user");
        assert_eq!(
            one::<i64>("SELECT count(*) FROM auth.users u JOIN legacy_user l USING (username) WHERE u.password = l.password"),
            Some(2)
        );
        assert!(truth(
            "SELECT auth.verify_password('pw_demo', password) FROM auth.users WHERE username = 'pw_demo'"
        ));
        // $2b$ / $2y$ hashes (bcrypt libraries of other languages) are kept too.
        let y = "$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
        run(&format!(
            "SELECT auth.import_user('pw_php', '{y}', 'passwords_importer')"
        ));
        assert_eq!(
            text("SELECT password FROM auth.users WHERE username = 'pw_php'"),
            y
        );
        // Refused imports, nothing written: not a hash, a cost above the cap (a login against it
        // would pin a backend), NULLs, a taken name.
        for (sql, state, needle) in [
            ("SELECT auth.import_user('pw_x', 'plain text', 'passwords_importer')", "22P02", "not a bcrypt hash"),
            ("SELECT auth.import_user('pw_x', '$2a$15$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW', 'passwords_importer')", "22023", "cost 15"),
            ("SELECT auth.import_user('pw_x', '$2a$20$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW', 'passwords_importer')", "22023", "from 4 to 14"),
            ("SELECT auth.import_user('pw_x', NULL, 'passwords_importer')", "22023", "must not be NULL"),
            ("SELECT auth.import_user(NULL, '$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW', 'passwords_importer')", "22023", "must not be NULL"),
            ("SELECT auth.import_user('pw_php', '$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW', 'passwords_importer')", "23505", "users_pkey"),
        ] {
            assert_error(sql, state, needle);
        }
        assert_eq!(
            one::<i64>("SELECT count(*) FROM auth.users WHERE username = 'pw_x'"),
            Some(0)
        );
        // Only a superuser imports: a role granted EXECUTE and INSERT still cannot.
        run("CREATE ROLE passwords_admin NOLOGIN");
        run("GRANT passwords_importer TO passwords_admin");
        run("GRANT USAGE ON SCHEMA auth TO passwords_admin");
        run("GRANT INSERT ON auth.users TO passwords_admin");
        run("GRANT EXECUTE ON FUNCTION auth.import_user(text, text, name) TO passwords_admin");
        run("SET LOCAL ROLE passwords_admin");
        assert_error(
            "SELECT auth.import_user('pw_x', '$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW', 'passwords_importer')",
            "42501",
            "",
        );
        // ... and what it inserts directly is hashed as a password.
        run("INSERT INTO auth.users (username, password, role) VALUES ('pw_direct', '$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW', 'passwords_importer')");
        run("RESET ROLE");
        assert_ne!(
            text("SELECT password FROM auth.users WHERE username = 'pw_direct'"),
            "$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
        );
    }

    /// A role granted INSERT/UPDATE on auth.users assigns only roles it holds (42501 otherwise):
    /// no users of role postgres or service_role made by a delegated admin.
    #[pg_test]
    fn passwords_users_role_needs_membership() {
        run("SET LOCAL auth.bcrypt_cost = 4");
        run("CREATE ROLE pwm_web NOLOGIN");
        run("CREATE ROLE pwm_service NOLOGIN");
        run("CREATE ROLE pwm_admin NOLOGIN");
        run("GRANT pwm_web TO pwm_admin");
        run("GRANT USAGE ON SCHEMA auth TO pwm_admin");
        run("GRANT INSERT, UPDATE, SELECT ON auth.users TO pwm_admin");
        run("SET LOCAL ROLE pwm_admin");
        run("INSERT INTO auth.users (username, password, role) VALUES ('pwm_ok', 'a password', 'pwm_web')");
        for role in ["pwm_service", "postgres"] {
            assert_error(
                &format!("INSERT INTO auth.users (username, password, role) VALUES ('pwm_bad', 'a password', '{role}')"),
                "42501",
                "is not a member of it",
            );
            assert_error(
                &format!("UPDATE auth.users SET role = '{role}' WHERE username = 'pwm_ok'"),
                "42501",
                "is not a member of it",
            );
        }
        run("RESET ROLE");
        assert_eq!(
            text("SELECT role::text FROM auth.users WHERE username = 'pwm_ok'"),
            "pwm_web"
        );
        assert_eq!(
            one::<i64>("SELECT count(*) FROM auth.users WHERE username = 'pwm_bad'"),
            Some(0)
        );
    }

    #[pg_test]
    fn passwords_users_role_must_exist() {
        run("SET LOCAL auth.bcrypt_cost = 4");
        assert_error(
            "INSERT INTO auth.users (username, password, role) VALUES ('pw_carol', 'pw', 'no_such_role_xyz')",
            "23503",
            "role \"no_such_role_xyz\" does not exist",
        );
        run("CREATE ROLE passwords_real NOLOGIN");
        run("INSERT INTO auth.users (username, password, role) VALUES ('pw_carol', 'pw', 'passwords_real')");
        assert_error(
            "UPDATE auth.users SET role = 'ghost_role_xyz' WHERE username = 'pw_carol'",
            "23503",
            "ghost_role_xyz",
        );
        assert_eq!(
            text("SELECT role::text FROM auth.users WHERE username = 'pw_carol'"),
            "passwords_real"
        );
    }
}
