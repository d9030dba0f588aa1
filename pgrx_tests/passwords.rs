//! Passwords in the database: hash_password / verify_password, pgcrypto compatibility both ways,
//! refused inputs, the auth.users table (hashing trigger, imports, role check, privileges),
//! argon2id hashing and imports, and the policy for new passwords.

#[pgrx::pg_schema]
mod tests {
    use crate::pgrx_tests::common::{assert_error, error_of, lit, one, run};
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
            "SELECT auth_private._password_to_store('u', 'x')",
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
        run("INSERT INTO auth.users (username, password, role) VALUES ('pw_alice', 'alice password', 'passwords_web')");
        let stored = text("SELECT password FROM auth.users WHERE username = 'pw_alice'");
        assert!(stored.starts_with("$2a$04$"), "{stored}");
        assert!(truth(&format!(
            "SELECT auth.verify_password('alice password', '{stored}')"
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
        run("UPDATE auth.users SET password = 'new password' WHERE username = 'pw_alice'");
        let renewed = text("SELECT password FROM auth.users WHERE username = 'pw_alice'");
        assert!(renewed.starts_with("$2a$04$") && renewed != stored);
        assert!(truth(&format!(
            "SELECT auth.verify_password('new password', '{renewed}')"
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
            "INSERT INTO auth.users (username, password, role) VALUES ('bo', 'x password', 'passwords_web')",
            "23514",
            "users_username_length",
        );
        assert_error(
            "INSERT INTO auth.users (username, password, role) VALUES (repeat('b', 257), 'x password', 'passwords_web')",
            "23514",
            "users_username_length",
        );
        run("INSERT INTO auth.users (username, password, role) VALUES (repeat('é', 256), 'x password', 'passwords_web')");
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
            ("SELECT auth.import_user('pw_x', 'plain text', 'passwords_importer')", "22023", "not a supported password hash"),
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
        run("GRANT EXECUTE ON FUNCTION auth.import_user(text, text, name, text, boolean) TO passwords_admin");
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
        run("INSERT INTO auth.users (username, password, role) VALUES ('pw_carol', 'carol password', 'passwords_real')");
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

    /// The PHC strings argon2-cffi wrote (core/vectors/argon2_vectors.json): (password, hash).
    fn cffi_hashes() -> Vec<(String, String)> {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../core/vectors/argon2_vectors.json")).unwrap();
        v["argon2_cffi"]["hashes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h["password"].as_str().unwrap().to_string(),
                    h["phc"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    /// argon2id at its cheapest (7 MiB, one pass): the tests' setting.
    fn cheap_argon2id() {
        run("SET LOCAL auth.password_algorithm = argon2id");
        run("SET LOCAL auth.argon2_memory = 7168");
        run("SET LOCAL auth.argon2_iterations = 1");
    }

    #[pg_test]
    fn passwords_argon2id_when_configured() {
        run("SET LOCAL auth.bcrypt_cost = 4");
        // bcrypt by default, for 0.1.0's databases; OWASP's argon2id parameters by default.
        assert_eq!(text("SHOW auth.password_algorithm"), "bcrypt");
        assert_eq!(text("SHOW auth.argon2_memory"), "19MB");
        assert_eq!(text("SHOW auth.argon2_iterations"), "2");
        assert_eq!(text("SHOW auth.argon2_parallelism"), "1");
        assert!(text("SELECT auth.hash_password('correct horse')").starts_with("$2a$04$"));
        cheap_argon2id();
        let h = text("SELECT auth.hash_password('correct horse')");
        assert!(h.starts_with("$argon2id$v=19$m=7168,t=1,p=1$"), "{h}");
        assert!(truth(&format!(
            "SELECT auth.verify_password('correct horse', '{h}')"
        )));
        assert!(!truth(&format!(
            "SELECT auth.verify_password('correct horsf', '{h}')"
        )));
        run("SET LOCAL auth.argon2_memory = '8MB'");
        run("SET LOCAL auth.argon2_parallelism = 2");
        assert!(
            text("SELECT auth.hash_password('x')").starts_with("$argon2id$v=19$m=8192,t=1,p=2$")
        );
        // The trigger stores argon2id with the configured parameters.
        run("CREATE ROLE pwa_web NOLOGIN");
        run("INSERT INTO auth.users (username, password, role) VALUES ('pwa_alice', 'alice password', 'pwa_web')");
        let stored = text("SELECT password FROM auth.users WHERE username = 'pwa_alice'");
        assert!(
            stored.starts_with("$argon2id$v=19$m=8192,t=1,p=2$"),
            "{stored}"
        );
        assert!(truth(&format!(
            "SELECT auth.verify_password('alice password', '{stored}')"
        )));
        // Each setting is refused outside its range when set; a combination argon2 would refuse
        // (memory times passes over 1 GiB) is refused when used, naming the settings.
        for bad in [
            "SET LOCAL auth.argon2_memory = 7167",
            "SET LOCAL auth.argon2_memory = '257MB'",
            "SET LOCAL auth.argon2_iterations = 0",
            "SET LOCAL auth.argon2_parallelism = 65",
            "SET LOCAL auth.password_algorithm = argon2i",
            "SET LOCAL auth.password_min_length = 0",
            "SET LOCAL auth.password_min_length = 73",
        ] {
            let (state, _) = error_of(bad);
            assert_eq!(state, "22023", "{bad}");
        }
        run("SET LOCAL auth.argon2_memory = '256MB'");
        run("SET LOCAL auth.argon2_iterations = 5");
        assert_error(
            "SELECT auth.hash_password('x')",
            "22023",
            "auth.argon2_memory, auth.argon2_iterations",
        );
        assert_error(
            "UPDATE auth.users SET password = 'another password' WHERE username = 'pwa_alice'",
            "22023",
            "at most 1048576",
        );
        assert_eq!(
            text("SELECT password FROM auth.users WHERE username = 'pwa_alice'"),
            stored
        );
        // Under bcrypt the argon2 settings are not used.
        run("SET LOCAL auth.password_algorithm = bcrypt");
        assert!(text("SELECT auth.hash_password('x')").starts_with("$2a$04$"));
        // verify_password takes argon2 strings whatever is configured; a malformed one is 22023.
        assert!(truth(&format!(
            "SELECT auth.verify_password('alice password', '{stored}')"
        )));
        assert_error(
            "SELECT auth.verify_password('x', '$argon2id$v=19$m=19456,t=2,p=1$abc')",
            "22023",
            "malformed argon2 hash",
        );
        assert_error(
            "SELECT auth.verify_password('x', 'plain')",
            "22P02",
            "not a bcrypt hash ($2a$, $2b$ or $2y$) nor an argon2id or argon2i PHC string",
        );
    }

    #[pg_test]
    fn passwords_argon2_imports() {
        run("SET LOCAL auth.bcrypt_cost = 4");
        run("CREATE ROLE pwi_web NOLOGIN");
        // Every PHC string argon2-cffi wrote imports as it is and verifies, whatever is configured.
        for (i, (password, phc)) in cffi_hashes().iter().enumerate() {
            run(&format!(
                "SELECT auth.import_user('pwi_{i}', {}, 'pwi_web')",
                lit(phc)
            ));
            assert_eq!(
                &text(&format!(
                    "SELECT password FROM auth.users WHERE username = 'pwi_{i}'"
                )),
                phc
            );
            assert!(truth(&format!(
                "SELECT auth.verify_password({}, password) FROM auth.users WHERE username = 'pwi_{i}'",
                lit(password)
            )));
        }
        // Refused, 22023 with the reason and never the hash; nothing written.
        let (_, owasp) = &cffi_hashes()[0];
        let salt_and_hash = owasp.splitn(5, '$').nth(4).unwrap().to_string();
        for (hash, needle) in [
            (owasp.replace("m=19456", "m=524288"), "at most 262144"),
            (
                owasp.replace("m=19456,t=2", "m=262144,t=5"),
                "at most 1048576",
            ),
            (owasp.replace("p=1", "p=65"), "at most 64"),
            (
                owasp.replace("$argon2id$", "$argon2d$"),
                "argon2d is not accepted",
            ),
            (owasp.replace("v=19", "v=16"), "version 16"),
            (owasp.replace("$v=19", ""), "version 16"),
            (format!("{owasp}$"), "malformed argon2 hash"),
            (
                "$scrypt$ln=16,r=8,p=1$c2FsdA$aGFzaA".to_string(),
                "not a supported password hash",
            ),
            (
                "plain password".to_string(),
                "not a supported password hash",
            ),
        ] {
            let sql = format!(
                "SELECT auth.import_user('pwi_bad', {}, 'pwi_web')",
                lit(&hash)
            );
            let (state, message) = error_of(&sql);
            assert_eq!(state, "22023", "{hash}: {message}");
            assert!(message.contains(needle), "{hash}: {message}");
            assert!(!message.contains(&salt_and_hash[..10]), "{message}");
        }
        assert_eq!(
            one::<i64>("SELECT count(*) FROM auth.users WHERE username = 'pwi_bad'"),
            Some(0)
        );
        // A superuser writing an argon2 PHC string login verifies (pg_restore) has it kept.
        run(&format!(
            "INSERT INTO auth.users (username, password, role) VALUES ('pwi_restored', {}, 'pwi_web')",
            lit(owasp)
        ));
        assert_eq!(
            &text("SELECT password FROM auth.users WHERE username = 'pwi_restored'"),
            owasp
        );
        // One over the caps is a password like any other and, at over 72 bytes, a refused one.
        let planted = owasp.replace("m=19456", "m=524288");
        assert_error(
            &format!(
                "INSERT INTO auth.users (username, password, role) VALUES ('pwi_planted', {}, 'pwi_web')",
                lit(&planted)
            ),
            "22023",
            "never truncated",
        );
        // From a role that is not a superuser, an argon2 string is a password like any other.
        run("CREATE ROLE pwi_admin NOLOGIN");
        run("GRANT pwi_web TO pwi_admin");
        run("GRANT USAGE ON SCHEMA auth TO pwi_admin");
        run("GRANT INSERT ON auth.users TO pwi_admin");
        run("SET LOCAL ROLE pwi_admin");
        assert_error(
            &format!(
                "INSERT INTO auth.users (username, password, role) VALUES ('pwi_direct', {}, 'pwi_web')",
                lit(owasp)
            ),
            "22023",
            "never truncated",
        );
        run("RESET ROLE");
        assert_eq!(
            one::<i64>(
                "SELECT count(*) FROM auth.users WHERE username IN ('pwi_planted', 'pwi_direct')"
            ),
            Some(0)
        );
    }

    #[pg_test]
    fn passwords_policy_for_new_passwords() {
        run("SET LOCAL auth.bcrypt_cost = 4");
        run("CREATE ROLE pwp_web NOLOGIN");
        let insert = |user: &str, password: &str| {
            format!(
                "INSERT INTO auth.users (username, password, role) VALUES ({}, {}, 'pwp_web')",
                lit(user),
                lit(password)
            )
        };
        // At least auth.password_min_length characters (8 by default), counted as characters.
        assert_eq!(text("SHOW auth.password_min_length"), "8");
        assert_error(
            &insert("pwp_a", "seven77"),
            "22023",
            "password is 7 characters; at least 8 are required",
        );
        assert_error(&insert("pwp_a", "ééééééé"), "22023", "7 characters");
        run(&insert("pwp_a", "éééééééé"));
        assert_error(
            "UPDATE auth.users SET password = 'short' WHERE username = 'pwp_a'",
            "22023",
            "at least 8",
        );
        run("SET LOCAL auth.password_min_length = 4");
        run("UPDATE auth.users SET password = 'four' WHERE username = 'pwp_a'");
        run("SET LOCAL auth.password_min_length = 8");
        // Neither hash_password nor an import checks it: they take no new password.
        assert!(text("SELECT auth.hash_password('x')").starts_with("$2a$04$"));
        run("SELECT auth.import_user('pwp_imported', auth.hash_password('x'), 'pwp_web')");

        // auth.password_check: a function (username, password) → reason or NULL.
        run("CREATE SCHEMA pwp");
        run("CREATE ROLE pwp_owner NOLOGIN");
        run("GRANT USAGE, CREATE ON SCHEMA pwp TO pwp_owner");
        run(
            r#"CREATE FUNCTION pwp.check(username text, password text) RETURNS text
               LANGUAGE sql AS $$
                   SELECT CASE
                       WHEN current_user <> 'pwp_owner' THEN 'not run as its owner but as ' || current_user
                       WHEN strpos(lower(password), lower(username)) > 0 THEN 'contains the username'
                       WHEN password IN ('password1', 'correct horse') THEN 'too common'
                       WHEN password = 'echo the password' THEN 'echo the password is refused'
                   END
               $$"#,
        );
        run("ALTER FUNCTION pwp.check(text, text) OWNER TO pwp_owner");
        run("SET LOCAL auth.password_check = 'pwp.check'");
        for (user, password, needle) in [
            ("pwp_b", "password1", "password refused: too common"),
            (
                "pwp_b",
                "my pwp_b secret",
                "password refused: contains the username",
            ),
            // A reason that carries the password is replaced.
            (
                "pwp_b",
                "echo the password",
                "password refused by the function of auth.password_check",
            ),
        ] {
            let (state, message) = error_of(&insert(user, password));
            assert_eq!(state, "22023", "{password}: {message}");
            assert!(message.contains(needle), "{password}: {message}");
            assert!(!message.contains(password), "{message}");
        }
        // Run as its owner (not as the extension owner the trigger runs as): accepted.
        run(&insert("pwp_b", "a fine password"));
        assert_error(
            "UPDATE auth.users SET password = 'password1' WHERE username = 'pwp_b'",
            "22023",
            "too common",
        );
        // The length comes first; a quoted name works; a name with another case is another name.
        assert_error(&insert("pwp_c", "short"), "22023", "at least 8");
        run("SET LOCAL auth.password_check = '\"pwp\".\"check\"'");
        assert_error(&insert("pwp_c", "password1"), "22023", "too common");
        // Settings that name no usable function: 22023 naming the setting, nothing written.
        run("CREATE FUNCTION pwp.wrong_type(username text, password text) RETURNS boolean LANGUAGE sql AS 'SELECT true'");
        run("CREATE FUNCTION pwp.one_arg(password text) RETURNS text LANGUAGE sql AS 'SELECT NULL::text'");
        for (setting, needle) in [
            ("check", "schema-qualified"),
            ("pwp.check(text, text)", "schema-qualified"),
            ("pwp.missing", "names no function"),
            ("pwp.one_arg", "names no function"),
            ("pwp.\"Check\"", "names no function"),
            ("pwp.wrong_type", "returning text"),
        ] {
            run(&format!("SET LOCAL auth.password_check = {}", lit(setting)));
            let (state, message) = error_of(&insert("pwp_d", "a fine password"));
            assert_eq!(state, "22023", "{setting}: {message}");
            assert!(
                message.contains("auth.password_check"),
                "{setting}: {message}"
            );
            assert!(message.contains(needle), "{setting}: {message}");
        }
        run("RESET auth.password_check");
        assert_eq!(
            one::<i64>("SELECT count(*) FROM auth.users WHERE username IN ('pwp_c', 'pwp_d')"),
            Some(0)
        );
        run(&insert("pwp_d", "a fine password"));
    }
}
